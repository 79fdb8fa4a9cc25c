"""The `dlp` command line: parse, dispatch to a command module, translate errors to exit statuses.

Exit statuses: 0 nothing to stop, 1 at least one item to block or quarantine,
2 usage or configuration error, 3 internal error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence, TextIO

from .. import __version__
from ..errors import ConfigError, DlpError, StoreError, UsageError

EXIT_OK, EXIT_FOUND, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

# Every command is a module with `register(subparsers)`; its parser sets `handler=run(args, env) -> int`.
COMMAND_MODULES = (
    "dlp.frontends.commands.register",
    "dlp.frontends.commands.phrases",
    "dlp.frontends.commands.admin",
    "dlp.frontends.commands.scan",
    "dlp.frontends.commands.train",
    "dlp.frontends.commands.incidents",
    "dlp.frontends.commands.audit",
    "dlp.frontends.milter.command",
    "dlp.frontends.watch.command",
)


@dataclass
class Env:
    """What a command may touch besides its arguments; tests inject their own."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: Any = field(default_factory=lambda: sys.stdin)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def scanner(self, args: argparse.Namespace):
        from ..scanner import open_scanner

        return open_scanner(args.registry, args.key, getattr(args, "policy", None),
                            ocr=not getattr(args, "no_ocr", False), environ=self.environ)

    def audit(self, args: argparse.Namespace):
        """The audit trail alone, for administrative acts (register, remove, release)."""
        from ..audit import AuditLog
        from ..scanner import registry_location, state_location

        state = state_location(getattr(args, "state", None), registry_location(args.registry, self.environ), self.environ)
        try:
            return AuditLog(state)
        except OSError as exc:
            raise UsageError(f"cannot use the state directory {state}: {exc.strerror or exc} "
                             "(give --state DIR or DLP_STATE, or --no-record for a dry scan)") from None

    def recorder(self, args: argparse.Namespace, policy=None):
        """Incidents, audit trail and exposure in the state directory (--state, $DLP_STATE, or beside the registry)."""
        from ..decisions import Recorder
        from ..scanner import registry_location, state_location
        from ..verdict import DefaultPolicy

        if policy is None:
            policy_file = getattr(args, "policy", None)
            if policy_file:
                from ..policy import load_policy

                policy = load_policy(Path(policy_file))
            else:
                policy = DefaultPolicy()
        state = state_location(getattr(args, "state", None), registry_location(args.registry, self.environ), self.environ)
        try:
            return Recorder(state, policy)
        except OSError as exc:
            raise UsageError(f"cannot use the state directory {state}: {exc.strerror or exc} "
                             "(give --state DIR or DLP_STATE, or --no-record for a dry scan)") from None

    def warn(self, message: str) -> None:
        print(f"dlp: warning: {message}", file=self.stderr)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits with 2 by itself; raise instead so main decides
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dlp", description="Find registered trade secrets in outbound files before they leave.")
    parser.add_argument("--version", action="version", version=f"dlp {__version__}")
    parser.add_argument("--registry", metavar="DIR", help="registry directory (default $DLP_REGISTRY or ./fingerprints)")
    parser.add_argument("--key", metavar="FILE", help="registry key file (default $DLP_KEY_FILE or DIR.key beside the registry)")
    parser.add_argument("--policy", metavar="FILE", help="destination policy (TOML); default: built-in policy")
    parser.add_argument("--state", metavar="DIR",
                        help="incidents, audit trail and exposure (default $DLP_STATE or state/ beside the registry)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None, env: Env | None = None) -> int:
    env = env or Env()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help(env.stderr)
            return EXIT_USAGE
        return int(args.handler(args, env))
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
        print(f"dlp: internal error: {type(exc).__name__}: {exc}", file=env.stderr)
        if env.environ.get("DLP_DEBUG"):
            traceback.print_exc(file=env.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
