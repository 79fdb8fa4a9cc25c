"""The `dlp` command line: parse, dispatch to a command module, translate errors to exit statuses.

Exit statuses: 0 nothing to stop, 1 at least one item to block or quarantine,
2 usage or configuration error, 3 internal error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import select
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence, TextIO

from .. import __version__
from ..errors import ConfigError, DlpError, StoreError, UsageError
from .status import Exit

EXIT_OK, EXIT_FOUND, EXIT_USAGE, EXIT_INTERNAL, EXIT_PIPE = Exit.OK, Exit.STOP, Exit.USAGE, Exit.INTERNAL, Exit.PIPE

# Every command is a module with `register(subparsers)`; its parser sets `handler=run(args, env) -> int`.
COMMAND_MODULES = (
    "dlp.frontends.commands.register",
    "dlp.frontends.commands.phrases",
    "dlp.frontends.commands.admin",
    "dlp.frontends.commands.scan",
    "dlp.frontends.commands.scan_mail",
    "dlp.frontends.commands.train",
    "dlp.frontends.commands.policy",
    "dlp.frontends.commands.incidents",
    "dlp.frontends.commands.release",
    "dlp.frontends.commands.audit",
    "dlp.frontends.commands.console",
    "dlp.frontends.milter.command",
    "dlp.frontends.watch.command",
)
# Which module defines each command: `dlp scan ...` imports the scan command alone, so a
# short command starts in a fraction of the time (`dlp --help` still imports them all).
COMMAND_OF = {
    "register": "dlp.frontends.commands.register", "terms": "dlp.frontends.commands.phrases",
    "records": "dlp.frontends.commands.phrases", "list": "dlp.frontends.commands.admin",
    "show": "dlp.frontends.commands.admin", "remove": "dlp.frontends.commands.admin",
    "compact": "dlp.frontends.commands.admin", "scan": "dlp.frontends.commands.scan",
    "scan-mail": "dlp.frontends.commands.scan_mail",
    "train": "dlp.frontends.commands.train", "policy": "dlp.frontends.commands.policy",
    "incidents": "dlp.frontends.commands.incidents", "release": "dlp.frontends.commands.release",
    "confirm": "dlp.frontends.commands.release", "audit": "dlp.frontends.commands.audit",
    "console": "dlp.frontends.commands.console", "milter": "dlp.frontends.milter.command",
    "watch": "dlp.frontends.watch.command",
}
GLOBAL_OPTIONS_WITH_VALUE = ("--registry", "--key", "--policy", "--state", "--settings")


@dataclass
class Env:
    """What a command may touch besides its arguments; tests inject their own."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: Any = field(default_factory=lambda: sys.stdin)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def settings(self, args: argparse.Namespace):
        """Where everything is and the limits, from flags, the environment and --settings (once per command)."""
        cached = getattr(args, "_settings", None)
        if cached is None:
            from ..settings import load_settings

            cached = load_settings(config=getattr(args, "settings", None), environ=self.environ,
                                   registry=args.registry, key=args.key, state=getattr(args, "state", None),
                                   policy=getattr(args, "policy", None), models=getattr(args, "models", None),
                                   ocr=False if getattr(args, "no_ocr", False) else None)
            args._settings = cached
        return cached

    def scanner(self, args: argparse.Namespace):
        from ..scanner import scanner_from

        return scanner_from(self.settings(args))

    def audit(self, args: argparse.Namespace):
        """The audit trail alone, for administrative acts (register, remove, release)."""
        from ..audit import AuditLog

        state = self.settings(args).state
        try:
            log = AuditLog(state)
        except OSError as exc:
            raise UsageError(f"cannot use the state directory {state}: {exc.strerror or exc} "
                             "(give --state DIR or DLP_STATE, or --no-record for a dry scan)") from None
        log.check()  # evidence first: a trail that cannot be written stops the act before it changes anything
        return log

    def recorder(self, args: argparse.Namespace, policy=None, *, read_only: bool = False):
        """Incidents, audit trail and exposure in the state directory (--state, $DLP_STATE, or beside the registry).
        `read_only`: a dry run that decides as a recorded scan would and writes nothing."""
        from ..recording import Recorder
        from ..rules import DefaultPolicy

        settings = self.settings(args)
        if policy is None:
            if settings.policy is not None:
                from ..destinations import load_policy

                policy = load_policy(settings.policy)
            else:
                policy = DefaultPolicy()
        try:
            return Recorder(settings.state, policy, read_only=read_only)
        except OSError as exc:
            raise UsageError(f"cannot use the state directory {settings.state}: {exc.strerror or exc} "
                             "(give --state DIR or DLP_STATE, or --no-record for a dry scan)") from None

    def warn(self, message: str) -> None:
        print(f"dlp: warning: {message}", file=self.stderr)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits with 2 by itself; raise instead so main decides
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _command_of(argv: Sequence[str]) -> str | None:
    """The command word of a command line (after the global options), if there is one."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in GLOBAL_OPTIONS_WITH_VALUE:
            i += 2
            continue
        if word.startswith("--") and "=" in word and word.split("=", 1)[0] in GLOBAL_OPTIONS_WITH_VALUE:
            i += 1
            continue
        return None if word.startswith("-") else word
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given the command line, only with the command it names (if a known one)."""
    parser = _Parser(prog="dlp", description="Find registered trade secrets in outbound files before they leave.")
    parser.add_argument("--version", action="version", version=f"dlp {__version__}")
    parser.add_argument("--registry", metavar="DIR", help="registry directory (default $DLP_REGISTRY or ./fingerprints)")
    parser.add_argument("--key", metavar="FILE", help="registry key file (default $DLP_KEY_FILE or DIR.key beside the registry)")
    parser.add_argument("--policy", metavar="FILE", help="destination policy (TOML); default: built-in policy")
    parser.add_argument("--state", metavar="DIR",
                        help="incidents, audit trail and exposure (default $DLP_STATE or state/ beside the registry)")
    parser.add_argument("--settings", metavar="FILE",
                        help="TOML file with registry, key, state, models, policy and [limits] (default $DLP_SETTINGS); "
                             "flags and environment variables take precedence")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    only = COMMAND_OF.get(_command_of(argv)) if argv is not None else None
    for name in (only,) if only else COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    # the global options are taken after the command too (`dlp scan --registry R x.txt`): a
    # newcomer writes them there, and "unrecognized arguments" helps nobody
    globals_ = [a for a in parser._actions if a.option_strings and a.option_strings[0] in GLOBAL_OPTIONS_WITH_VALUE]
    for command in set(sub.choices.values()):
        for action in globals_:
            if action.option_strings[0] not in command._option_string_actions:
                command.add_argument(*action.option_strings, dest=action.dest, metavar=action.metavar,
                                     default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None, env: Env | None = None) -> int:
    env = env or Env()
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        if argv == ["--version"]:  # no command to import for that
            print(f"dlp {__version__}", file=env.stdout)
            return EXIT_OK
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help(env.stderr)
            return EXIT_USAGE
        status = int(args.handler(args, env))
        env.stdout.flush()  # a closed pipe fails here, not in the interpreter's last flush
        return status
    except BrokenPipeError as exc:
        if not _reader_gone(env.stdout):  # another pipe broke (a worker's): a bug like any other
            return _internal_error(exc, env)
        _discard_output(env.stdout)  # the reader went away (`dlp incidents list | head -1`): nothing to say
        return EXIT_PIPE
    except SystemExit as exc:  # --help and --version
        return int(exc.code or 0)
    except (UsageError, ConfigError, StoreError) as exc:
        print(f"dlp: error: {exc}", file=env.stderr)
        return EXIT_USAGE
    except DlpError as exc:
        print(f"dlp: error: {exc}", file=env.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("dlp: interrupted", file=env.stderr)
        return EXIT_INTERNAL
    except Exception as exc:  # a bug: say so in one line, full trace only on request
        return _internal_error(exc, env)


def _internal_error(exc: Exception, env: Env) -> int:
    print(f"dlp: internal error: {type(exc).__name__}: {exc}", file=env.stderr)
    if env.environ.get("DLP_DEBUG"):
        traceback.print_exc(file=env.stderr)
    return EXIT_INTERNAL


def _reader_gone(stream: TextIO) -> bool:
    """Whether `stream` is a pipe or socket whose other end was closed (poll says POLLERR or POLLHUP)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # an in-memory stream (tests)
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _discard_output(stream: TextIO) -> None:
    """Point a broken standard output at /dev/null, so what is still buffered cannot fail again at exit."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # an in-memory stream (tests): nothing buffered for the OS
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


if __name__ == "__main__":
    sys.exit(main())
