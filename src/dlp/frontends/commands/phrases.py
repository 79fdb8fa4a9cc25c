"""`dlp terms add` and `dlp records add`: phrases matched with Aho-Corasick."""

from __future__ import annotations

from pathlib import Path

from ...changes import registry_change
from ...errors import UsageError
from ...extract.text import decode_text
from .register import CLASSIFICATIONS
from ..status import Exit


def register(sub) -> None:
    terms = sub.add_parser("terms", help="term sets: code names, part numbers, formula names")
    tsub = terms.add_subparsers(dest="terms_command", metavar="ACTION", parser_class=type(terms))
    add = tsub.add_parser("add", help="add or replace a term set from a file with one term per line")
    add.add_argument("set_id", metavar="SET")
    add.add_argument("file", metavar="FILE")
    add.add_argument("--label", default="")
    add.add_argument("--classification", choices=CLASSIFICATIONS,
                     help="default confidential; registering again keeps it unless given")
    add.add_argument("--min-distinct", type=int, default=1, metavar="N",
                     help="distinct terms of the set a part must contain to be reported (default 1)")
    add.set_defaults(handler=run_terms)

    records = sub.add_parser("records", help="structured records (exact data match)")
    rsub = records.add_subparsers(dest="records_command", metavar="ACTION", parser_class=type(records))
    radd = rsub.add_parser("add", help="add or replace a record list from a CSV file with a header row")
    radd.add_argument("name", metavar="NAME")
    radd.add_argument("file", metavar="FILE.csv")
    radd.add_argument("--columns", help="comma-separated columns to match (default: all)")
    radd.add_argument("--min-fields", type=int, default=2, metavar="K",
                      help="fields of one row that must occur within about 50 words (default 2)")
    radd.add_argument("--label", default="")
    radd.add_argument("--classification", choices=CLASSIFICATIONS,
                     help="default confidential; registering again keeps it unless given")
    radd.set_defaults(handler=run_records)


def _read(file: str) -> tuple[str, bytes]:
    path = Path(file)
    if not path.is_file():
        raise UsageError(f"no such file: {file}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror}") from None
    text = decode_text(raw)
    if text is None:
        raise UsageError(f"{file} is not a text file")
    return text, raw


def run_terms(args, env) -> int:
    if args.min_distinct < 1:
        raise UsageError("--min-distinct must be at least 1")
    audit = env.audit(args)  # a trail that cannot be written stops us before any change
    text, raw = _read(args.file)
    with registry_change(audit, env.settings(args).registry, env.settings(args).key,
                         "terms", secret=args.set_id) as (reg, change):
        r = reg.add_terms(args.set_id, text.splitlines(), label=args.label, classification=args.classification,
                          min_distinct=args.min_distinct, raw=raw, source=Path(args.file).name)
        change.note(generation=reg.commit(), version=r.version, status=r.status, terms=r.tokens)
    print(f"{r.status:9} {r.secret} v{r.version}: {r.tokens} terms", file=env.stdout)
    return Exit.OK


def run_records(args, env) -> int:
    audit = env.audit(args)
    text, raw = _read(args.file)
    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    with registry_change(audit, env.settings(args).registry, env.settings(args).key,
                         "records", secret=args.name) as (reg, change):
        r = reg.add_records(args.name, text, columns=columns, min_fields=args.min_fields, label=args.label,
                            classification=args.classification, raw=raw, source=Path(args.file).name)
        rows = reg.secrets[r.secret].latest.extra.get("rows", 0)
        change.note(generation=reg.commit(), version=r.version, status=r.status, rows=rows)
    print(f"{r.status:9} {r.secret} v{r.version}: {rows} rows, {r.tokens} field values", file=env.stdout)
    return Exit.OK
