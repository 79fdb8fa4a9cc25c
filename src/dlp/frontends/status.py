"""The exit statuses of every `dlp` command, in one place."""

from __future__ import annotations

import enum


class Exit(enum.IntEnum):
    OK = 0  # nothing to stop; the command did what it was asked
    STOP = 1  # at least one item to block or quarantine (scan, scan-mail); a check that failed (audit verify, policy check --strict)
    USAGE = 2  # a usage or configuration error: nothing was changed
    INTERNAL = 3  # a bug: said in one line ($DLP_DEBUG for the trace)
    PIPE = 141  # standard output's reader went away (`dlp incidents list | head -1`): 128 + SIGPIPE, as the shell reports it
