"""`dlp watch`: the watch-folder daemon between users' outboxes and a transfer job's release folder.

- `settings`  outboxes and options from the command line and a TOML file
- `names`     temporary names that are not picked up, collision suffixes
- `settle`    when a file is complete
- `journal`   the work folder and the crash-safety protocol (read its docstring)
- `scans`     scanning in threads or processes, registry reloads, fail-closed
- `daemon`    observers, main loop, workers, recovery, decision log
- `command`   the `dlp watch` command line
"""
