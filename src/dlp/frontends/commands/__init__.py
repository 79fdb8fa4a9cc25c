"""One module per `dlp` command (see COMMAND_MODULES in dlp.frontends.cli)."""
