"""dlp as a milter: Postfix and Sendmail ask it about every message before queueing it.

- `protocol`: packet framing, typed commands and replies (milter protocol version 6)
- `session`: one connection as a sans-IO state machine
- `spool`: message content held in memory up to a threshold, then on disk, within a limit
- `workers`: scans in killable worker processes, a slow lane, fair turns per sender
- `mail`: one message in, one verdict out (shared with `dlp scan-mail`)
- `verdicts`: a scan report (or a failure to scan) as a verdict, and as the replies that end a message
- `server`: asyncio sockets, connection limits, eviction of idle connections
- `command`: the `dlp milter` command
"""
