"""`dlp console`: serve the review console; `dlp console user ...` and `dlp console token ...` manage who may.

Users and tokens live in the state directory (`STATE/console.sqlite`), so these commands
need no running server; every change is an audit entry naming the operating-system user
who ran the command (``via: cli``).
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from ...errors import UsageError
from .incidents import add_policy_option
from ..status import Exit


def register(sub) -> None:
    p = sub.add_parser("console", help="the review console: incidents, actions, dashboard and audit in a browser",
                       description="Serve the review console over the state directory. Add users first with "
                                   "`dlp console user add NAME --role ROLE` (password on standard input).")
    _add_state_option(p)
    p.add_argument("--listen", default="127.0.0.1:8765", metavar="HOST:PORT",
                   help="address to listen on (default 127.0.0.1:8765; port 0 picks a free one)")
    p.add_argument("--tls-cert", type=Path, metavar="FILE", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", type=Path, metavar="FILE", help="the certificate's private key (PEM)")
    p.add_argument("--postsuper", metavar="COMMAND",
                   help="postsuper command that releases held mail, e.g. \"/usr/sbin/postsuper -c /etc/postfix-out\"")
    p.add_argument("--idle-minutes", type=float, default=30.0, metavar="N",
                   help="a session ends after N idle minutes (default 30)")
    add_policy_option(p)
    p.set_defaults(handler=run_serve)
    csub = p.add_subparsers(dest="console_command", metavar="SUBCOMMAND")

    user = csub.add_parser("user", help="add, list, change or remove console users")
    usub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    q = usub.add_parser("add", help="add a user; the password is read from standard input")
    q.add_argument("name", metavar="NAME")
    q.add_argument("--role", required=True, choices=("viewer", "reviewer", "admin"))
    q.add_argument("--no-password", action="store_true",
                   help="an account for scripts: no browser login, API tokens only")
    q.set_defaults(handler=run_user_add)
    q = usub.add_parser("list", help="users and their roles")
    q.set_defaults(handler=run_user_list)
    q = usub.add_parser("role", help="give a user another role")
    q.add_argument("name", metavar="NAME")
    q.add_argument("role", choices=("viewer", "reviewer", "admin"))
    q.set_defaults(handler=run_user_role)
    q = usub.add_parser("password", help="set a new password (from standard input); ends the user's sessions")
    q.add_argument("name", metavar="NAME")
    q.set_defaults(handler=run_user_password)
    q = usub.add_parser("remove", help="remove a user, their sessions and tokens")
    q.add_argument("name", metavar="NAME")
    q.set_defaults(handler=run_user_remove)

    token = csub.add_parser("token", help="API tokens for scripts (Authorization: Bearer TOKEN)")
    tsub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    q = tsub.add_parser("create", help="make a token acting as user NAME; it is printed once")
    q.add_argument("name", metavar="NAME", help="the console user the token acts as (its role applies)")
    q.add_argument("--label", default="", metavar="TEXT", help="what the token is for")
    q.set_defaults(handler=run_token_create)
    q = tsub.add_parser("list", help="tokens (never their values)")
    q.set_defaults(handler=run_token_list)
    q = tsub.add_parser("revoke", help="revoke a token by its number")
    q.add_argument("token_id", type=int, metavar="ID")
    q.set_defaults(handler=run_token_revoke)

    for parser in (user, token):
        _add_state_option(parser)


def _add_state_option(parser) -> None:
    parser.add_argument("--state", metavar="DIR", default=argparse.SUPPRESS,
                        help="state directory (default $DLP_STATE or state/ beside the registry)")


def _state(args, env) -> Path:
    return Path(env.settings(args).state)


def _accounts(args, env):
    from ...audit import AuditLog
    from ..console.accounts import Accounts

    state = _state(args, env)
    try:
        return Accounts(state, AuditLog(state))
    except OSError as exc:
        raise UsageError(f"cannot use the state directory {state}: {exc.strerror or exc}") from None


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _password(env, prompt: str) -> str:
    """From a terminal: asked twice, not echoed. Otherwise the first line of standard input."""
    stdin = env.stdin
    if hasattr(stdin, "isatty") and stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("again: ") != first:
            raise UsageError("the two passwords differ")
        return first
    line = stdin.readline()
    password = line.rstrip("\r\n") if isinstance(line, str) else line.decode("utf-8").rstrip("\r\n")
    if not password:
        raise UsageError("no password on standard input (e.g. `printf '%s\\n' \"$PW\" | dlp console user add ...`)")
    return password


# -- serving ----------------------------------------------------------------------------------


def run_serve(args, env) -> int:
    try:
        from ..console.app import ConsoleSettings, create_app
        from ..console.server import Listen, serve
    except ImportError as exc:
        raise UsageError(f"the console needs its extra: pip install 'dlp[console]' ({exc.name} is missing)") from None
    listen = Listen.parse(args.listen)
    if args.idle_minutes <= 0:
        raise UsageError("--idle-minutes must be positive")
    state = _state(args, env)
    if not state.is_dir():
        raise UsageError(f"no state directory at {state} (give --state DIR or set $DLP_STATE)")
    settings = ConsoleSettings(state=state, registry=env.settings(args).registry,
                               key=env.settings(args).key, policy=env.settings(args).policy,
                               postsuper=args.postsuper, secure_cookies=args.tls_cert is not None,
                               idle_minutes=args.idle_minutes)
    app = create_app(settings)
    if not app.state.console.accounts.users():
        env.warn(f"no console user yet: add one with `dlp --state {state} console user add NAME --role admin`")

    def announce(line: str) -> None:
        print(line, file=env.stdout, flush=True)

    serve(app, listen, tls_cert=args.tls_cert, tls_key=args.tls_key, announce=announce)
    return Exit.OK


# -- users and tokens ---------------------------------------------------------------------------


def run_user_add(args, env) -> int:
    accounts = _accounts(args, env)
    password = None if args.no_password else _password(env, f"password for {args.name}: ")
    user = accounts.add_user(args.name, args.role, password, by=_operator(), via="cli")
    print(f"console user {user.name} added as {user.role}" + ("" if password else " (API tokens only)"),
          file=env.stdout)
    return Exit.OK


def run_user_list(args, env) -> int:
    import time

    for user in _accounts(args, env).users():
        last = time.strftime("%Y-%m-%d %H:%M", time.gmtime(user.last_login)) if user.last_login else "never"
        print(f"{user.name:24} {user.role:9} last login {last}{'' if user.has_password else '  (tokens only)'}",
              file=env.stdout)
    return Exit.OK


def run_user_role(args, env) -> int:
    user = _accounts(args, env).set_role(args.name, args.role, by=_operator(), via="cli")
    print(f"console user {user.name} is now {user.role}", file=env.stdout)
    return Exit.OK


def run_user_password(args, env) -> int:
    accounts = _accounts(args, env)
    accounts.set_password(args.name, _password(env, f"new password for {args.name}: "), by=_operator(), via="cli")
    print(f"password of {args.name} changed; their sessions ended", file=env.stdout)
    return Exit.OK


def run_user_remove(args, env) -> int:
    _accounts(args, env).remove_user(args.name, by=_operator(), via="cli")
    print(f"console user {args.name} removed, with their sessions and tokens", file=env.stdout)
    return Exit.OK


def run_token_create(args, env) -> int:
    token, made = _accounts(args, env).create_token(args.name, args.label, by=_operator(), via="cli")
    print(token, file=env.stdout)
    env.warn(f"token {made.id} for {made.user}: shown this once, only its digest is kept")
    return Exit.OK


def run_token_list(args, env) -> int:
    import time

    for t in _accounts(args, env).tokens():
        used = time.strftime("%Y-%m-%d %H:%M", time.gmtime(t.last_used)) if t.last_used else "never"
        print(f"{t.id:4}  {t.user:24} last used {used}  {t.label}", file=env.stdout)
    return Exit.OK


def run_token_revoke(args, env) -> int:
    _accounts(args, env).revoke_token(args.token_id, by=_operator(), via="cli")
    print(f"token {args.token_id} revoked", file=env.stdout)
    return Exit.OK
