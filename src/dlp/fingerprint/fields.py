"""Typed record fields: the same value, however a person or a CRM export writes it.

Exact data match compares field values of registered rows with the scanned text. Plain
text values are phrases (token n-grams, case and punctuation already normalised). Some
columns have a type, and then the value is matched by what it *is*:

======== ==========================================================================
``text``  the value's tokens in order (the default)
``email`` the same, which already ignores case (``GRETA.L@KUND11.SE``)
``phone`` its digits and letters run together: ``+46-190-861-340``, ``+46 190 861 340``
``id``    and ``(46) 190861340`` are one value; separators and grouping do not matter
``name``  the set of its name words, in any order, adjacent or one word apart:
          ``Greta Lindqvist``, ``Lindqvist, Greta``, ``Greta M. Lindqvist``
``date``  the calendar day, in ISO, day/month/year, month/day/year and month-name forms
======== ==========================================================================

Each typed value becomes one keyed hash (`typed_hash`, under the registry key). When
scanning, `candidates` derives the same hashes from the tokens of a part: runs of
number-like tokens joined only by separators, windows of name-like words, date-like
triples; all with vector operations, then looked up like any phrase.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np

from ..text.normalise import DIGITS, Tokens, _P, _P_INV, _powers, fmix64, tokenise
from ..errors import InvalidValue

TYPES = ("text", "email", "phone", "id", "name", "date")
JOINED = ("phone", "id")  # matched as their characters run together
_DOMAIN = {"phone": 0x1F3A, "id": 0x1F3A, "name": 0x2B71, "date": 0x3C55}  # phone and id share one space
MAX_JOINED_TOKENS = 8
MIN_JOINED_CHARS, MAX_JOINED_CHARS = 5, 32
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
_JOIN_GAP = frozenset(" -./()+")
_DATE_GAP = frozenset(" -./,")


def parse_columns(spec: str) -> list[tuple[str, str | None]]:
    """``name:name,email,phone:phone`` -> [(column, type or None)]."""
    out = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        column, _, kind = item.partition(":")
        kind = kind.strip().lower() or None
        if kind is not None and kind not in TYPES:
            from ..errors import UsageError

            raise UsageError(f"column {column!r}: unknown type {kind!r} ({', '.join(TYPES)})")
        out.append((column.strip(), kind))
    return out


def guess_type(header: str, values: list[str]) -> str:
    """A column's type from its name and a sample of its values, when none is declared."""
    name = header.lower()
    sample = [v.strip() for v in values if v.strip()][:200]
    if any(k in name for k in ("mail",)) or (sample and sum("@" in v for v in sample) >= 0.8 * len(sample)):
        return "email"
    if any(k in name for k in ("phone", "tel", "mobile", "fax", "cell")):
        return "phone"
    if any(k in name for k in ("date", "dob", "birth", "born")):
        return "date"
    if any(k in name for k in ("name", "contact", "person", "customer", "employee")) and \
            not any(k in name for k in ("company", "firm", "business", "file", "user")):
        return "name"
    if any(k in name for k in ("account", "iban", "number", "id", "ssn", "passport", "card", "code", "no")):
        return "id"
    date_like = r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}|\d{1,2} [a-z]{3,9}\.? \d{2,4}"
    if sample and sum(bool(re.fullmatch(date_like, v.lower())) and bool(parse_dates(v)) for v in sample) >= 0.8 * len(sample):
        return "date"
    if sample and sum(bool(re.fullmatch(r"[+(]?\d[\d\s\-./()]{5,}", v)) for v in sample) >= 0.8 * len(sample):
        return "phone"
    return "text"


# -- registration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TypedColumn:
    """The keyed hashes of one typed column, value by value, and what scanning needs to find them."""

    hashes: list[list[int]]  # per value: the hashes it stands for (a date may stand for two days)
    name_words: np.ndarray  # keyed values of the words of names (name columns)
    joined_chars: np.ndarray  # lengths of values run together (phone and id columns)


def typed_column(kind: str, texts: list[str], keyer) -> TypedColumn:
    """Hashes of every value of a typed column, computed for the column at once."""
    empty = np.zeros(0, dtype=np.uint64)
    if kind == "date":
        days = [parse_dates(t) for t in texts]
        flat = np.array([d for ds in days for d in ds], dtype=np.uint64)
        keyed = keyer.values(_domain(flat, "date")).tolist() if len(flat) else []
        out, i = [], 0
        for ds in days:
            out.append([int(v) for v in keyed[i : i + len(ds)]])
            i += len(ds)
        return TypedColumn(out, empty, np.zeros(0, dtype=np.uint8))
    toks = tokenise("\n".join(t.replace("\n", " ").replace("\r", " ") for t in texts))
    line_starts = np.concatenate(([0], np.cumsum([len(t) + 1 for t in texts])[:-1])).astype(np.int64)
    line = np.searchsorted(line_starts, toks.starts, side="right") - 1
    bounds = np.searchsorted(line, np.arange(len(texts) + 1))
    first, count = bounds[:-1], np.diff(bounds)
    if kind in JOINED:
        chars = np.add.reduceat(np.append(toks.lengths, 0), np.minimum(first, len(toks)))[: len(texts)] \
            if len(toks) else np.zeros(len(texts), dtype=np.int64)
        chars = np.where(count > 0, chars, 0)
        ok = (count > 0) & (count <= MAX_JOINED_TOKENS) & (chars >= MIN_JOINED_CHARS) & (chars <= MAX_JOINED_CHARS)
        keyed = np.zeros(len(texts), dtype=np.uint64)
        if ok.any():
            keyed[ok] = keyer.values(_domain(_joined(toks, first[ok], count[ok]), kind))
        return TypedColumn([[int(k)] if good else [] for k, good in zip(keyed.tolist(), ok.tolist())], empty,
                           np.unique(chars[ok]).astype(np.uint8))
    if kind == "name":
        values = keyer.tokens(toks)
        word = (toks.lengths > 1) & ((toks.flags & DIGITS) == 0)
        picks = [np.flatnonzero(word[first[i] : first[i] + count[i]]) + first[i] for i in range(len(texts))]
        out: list[list[int]] = [[] for _ in texts]
        used = []
        for size in (2, 3, 4):  # names are two to four words; longer values are not names
            which = [i for i, p in enumerate(picks) if len(p) == size]
            if not which:
                continue
            matrix = values[np.stack([picks[i] for i in which])]
            used.append(matrix.ravel())
            for i, h in zip(which, _name_hash(matrix).tolist()):
                out[i] = [int(h)]
        return TypedColumn(out, np.unique(np.concatenate(used)) if used else empty, np.zeros(0, dtype=np.uint8))
    raise InvalidValue(f"unknown record field type {kind!r}")


def parse_dates(text: str) -> list[int]:
    """yyyymmdd of the day(s) a written date may mean."""
    text = text.strip().lower()
    out = set()
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    month = next((i + 1 for i, m in enumerate(MONTHS) if re.search(rf"\b{m[:3]}", text)), None)
    if month is not None and len(numbers) >= 2:
        day, year = (numbers[0], numbers[1]) if numbers[1] > 31 else (numbers[1], numbers[0])
        out.add(_ymd(year, month, day))
    elif len(numbers) >= 3:
        a, b, c = numbers[:3]
        if a > 31:
            out.add(_ymd(a, b, c))
        else:
            out.add(_ymd(c, b, a))  # day/month/year
            out.add(_ymd(c, a, b))  # month/day/year
    return sorted(d for d in out if d)


def _ymd(year: int, month: int, day: int) -> int:
    if year < 100:
        year += 2000 if year < 50 else 1900
    try:
        dt.date(year, month, day)
    except ValueError:
        return 0
    return year * 10000 + month * 100 + day


# -- hashes shared by both sides -------------------------------------------------------------------


def _domain(unkeyed: np.ndarray, kind: str) -> np.ndarray:
    with np.errstate(over="ignore"):
        return fmix64(unkeyed.astype(np.uint64) ^ (np.uint64(_DOMAIN[kind]) << np.uint64(48)))


def _token_poly(toks: Tokens, which: np.ndarray) -> np.ndarray:
    """For the tokens `which`, sum(c_j * P**j) over each one's normalised characters."""
    lengths = toks.lengths[which].astype(np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(len(which), dtype=np.uint64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    within = np.arange(total) - np.repeat(starts, lengths)
    chars = toks.norm[np.repeat(toks.nstarts[which], lengths) + within].astype(np.uint64)
    with np.errstate(over="ignore"):
        terms = chars * _powers(_P, int(lengths.max()))[within]
        return np.add.reduceat(terms, starts)


def _joined(toks: Tokens, first: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Polynomial hash of tokens first..first+count-1 written together, for many spans at once."""
    if len(first) == 0:
        return np.zeros(0, dtype=np.uint64)
    needed = np.unique(np.concatenate([first + k for k in range(int(count.max()))]))
    needed = needed[needed < len(toks)]
    poly = np.zeros(len(toks), dtype=np.uint64)
    poly[needed] = _token_poly(toks, needed)
    lengths = toks.lengths.astype(np.int64)
    h = np.zeros(len(first), dtype=np.uint64)
    shift = np.zeros(len(first), dtype=np.int64)
    table = _powers(_P, MAX_JOINED_CHARS * 4 + 1)
    with np.errstate(over="ignore"):
        for k in range(int(count.max())):
            live = k < count
            idx = first[live] + k
            h[live] += poly[idx] * table[np.minimum(shift[live], len(table) - 1)]
            shift[live] += lengths[idx]
        return fmix64(h ^ shift.astype(np.uint64))


def _name_hash(values: np.ndarray) -> np.ndarray:
    """Order-free hash of each row of keyed values (the words of a name)."""
    with np.errstate(over="ignore"):
        mixed = fmix64(values + np.uint64(0x9E3779B97F4A7C15)).sum(axis=1, dtype=np.uint64)
        return fmix64(mixed ^ (np.uint64(values.shape[1]) << np.uint64(56)) ^ np.uint64(_DOMAIN["name"]))


# -- scanning ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidates:
    hashes: np.ndarray  # keyed typed hashes
    first: np.ndarray  # first token of the candidate
    last: np.ndarray  # last token


def candidates(toks: Tokens, values: np.ndarray, keyer, kinds: set[str], months: np.ndarray,
               name_words: np.ndarray | None = None, joined_chars: np.ndarray | None = None) -> Candidates:
    """Typed hashes the part's tokens may stand for, with their token spans.

    `name_words` marks the tokens that are words of some registered name, `joined_chars`
    the lengths registered phone and id values have: other candidates cannot match.
    """
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    n = len(toks)
    if n == 0:
        return Candidates(*(np.zeros(0, dtype=t) for t in (np.uint64, np.int64, np.int64)))
    gaps = _gaps(toks)
    if kinds & set(JOINED):
        parts.append(_joined_candidates(toks, gaps, keyer, joined_chars))
    if "name" in kinds:
        parts.append(_name_candidates(toks, values, gaps, keyer, name_words))
    if "date" in kinds:
        parts.append(_date_candidates(toks, values, gaps, keyer, months))
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return Candidates(*(np.zeros(0, dtype=t) for t in (np.uint64, np.int64, np.int64)))
    return Candidates(*(np.concatenate(x) for x in zip(*parts)))


def _char_table(chars: frozenset[str]) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    for c in chars:
        table[ord(c)] = True
    return table


_GAP_TABLES = {"join": _char_table(_JOIN_GAP), "date": _char_table(_DATE_GAP), "name": _char_table(frozenset(" ,."))}


def _gaps(toks: Tokens) -> dict[str, np.ndarray]:
    """Per gap between token i and i+1: whether it may join a run-together value, a date, a name.

    A gap of one to three characters all from the kind's set; read gap by gap (three
    gathers), never over the whole text.
    """
    n = len(toks)
    if n < 2:
        return {kind: np.zeros(0, dtype=bool) for kind in _GAP_TABLES}
    a = toks.nends[:-1]
    size = toks.nstarts[1:] - a
    short = size <= 3
    norm = toks.norm
    out = {}
    for kind, table in _GAP_TABLES.items():
        ok = short.copy()
        for k in range(3):
            inside = ok & (size > k)
            chars = norm[np.minimum(a[inside] + k, len(norm) - 1)].astype(np.int64)
            good = np.zeros(len(chars), dtype=bool)
            small = chars < 256
            good[small] = table[chars[small]]
            ok[np.flatnonzero(inside)[~good]] = False
        out[kind] = ok
    return out


def _joined_candidates(toks: Tokens, gaps, keyer, allowed: np.ndarray | None):
    """Spans of tokens linked by separators only, with a digit, as long as some registered value."""
    n = len(toks)
    e = np.zeros(0, dtype=np.int64)
    has_digit = _has_digit(toks)
    link = gaps["join"]
    # chains of linked tokens; only those holding a digit can hold a phone or id
    chain = np.concatenate(([0], np.cumsum(~link))) if n > 1 else np.zeros(n, dtype=np.int64)
    digit_chains = np.unique(chain[has_digit])
    where = np.flatnonzero(np.isin(chain, digit_chains))
    if len(where) == 0:
        return np.zeros(0, dtype=np.uint64), e, e
    lengths = toks.lengths.astype(np.int64)
    firsts, counts = [], []
    for m in range(1, MAX_JOINED_TOKENS + 1):
        starts = where[where + m <= n]
        if len(starts) == 0:
            break
        ok = chain[starts + m - 1] == chain[starts]
        starts = starts[ok]
        digits = has_digit[starts].copy()
        chars = lengths[starts].copy()
        for k in range(1, m):
            digits |= has_digit[starts + k]
            chars += lengths[starts + k]
        ok = digits & (chars >= MIN_JOINED_CHARS) & (chars <= MAX_JOINED_CHARS)
        if allowed is not None:
            ok &= np.isin(chars, allowed)
        firsts.append(starts[ok])
        counts.append(np.full(int(ok.sum()), m, dtype=np.int64))
    first, count = np.concatenate(firsts), np.concatenate(counts)
    if len(first) == 0:
        return np.zeros(0, dtype=np.uint64), e, e
    hashes = keyer.values(_domain(_joined(toks, first, count), "phone"))
    return hashes, first, first + count - 1


def _has_digit(toks: Tokens) -> np.ndarray:
    norm = toks.norm
    digit = np.zeros(len(norm) + 1, dtype=np.int64)
    digit[1:] = np.cumsum((norm - norm.dtype.type(48)) < 10)
    return digit[toks.nends] - digit[toks.nstarts] > 0


def _name_candidates(toks: Tokens, values: np.ndarray, gaps, keyer, name_words: np.ndarray | None):
    n = len(toks)
    wordlike = (toks.lengths > 1) & ((toks.flags & DIGITS) == 0)
    if name_words is not None:
        wordlike &= name_words
    link = gaps["name"]
    out_h, out_f, out_l = [], [], []
    for span, picks in ((2, (0, 1)), (3, (0, 2)), (3, (0, 1, 2))):  # pairs, pairs one word apart, triples
        if n < span:
            continue
        starts = np.arange(n - span + 1)
        ok = np.ones(len(starts), dtype=bool)
        for k in range(1, span):
            ok &= link[starts + k - 1]
        for k in picks:
            ok &= wordlike[starts + k]
        starts = starts[ok]
        if len(starts) == 0:
            continue
        out_h.append(_name_hash(np.stack([values[starts + k] for k in picks], axis=1)))
        out_f.append(starts)
        out_l.append(starts + span - 1)
    if not out_h:
        e = np.zeros(0, dtype=np.int64)
        return np.zeros(0, dtype=np.uint64), e, e
    return np.concatenate(out_h), np.concatenate(out_f), np.concatenate(out_l)


def _date_candidates(toks: Tokens, values: np.ndarray, gaps, keyer, months: np.ndarray):
    n = len(toks)
    e = np.zeros(0, dtype=np.int64)
    if n < 3:
        return np.zeros(0, dtype=np.uint64), e, e
    number = _small_numbers(toks)  # -1 where the token is not a number of at most 4 digits
    month = np.full(n, -1, dtype=np.int64)
    for i, m in enumerate(months.tolist()):
        month[values == np.uint64(m)] = (i % 12) + 1
    link = gaps["date"]
    s = np.arange(n - 2)
    ok = link[s] & link[s + 1]
    a, b, c = number[s], number[s + 1], number[s + 2]
    ma, mb = month[s], month[s + 1]
    days = []
    for year, mon, day, valid in (
        (a, b, c, ok & (a >= 1000)),                          # 2024-03-12
        (c, b, a, ok & (a >= 1) & (c >= 0) & (b >= 1)),       # 12/03/2024, 12.03.24
        (c, a, b, ok & (a >= 1) & (c >= 0) & (b >= 1)),       # 03/12/2024
        (c, mb, a, ok & (mb > 0) & (a >= 1) & (c >= 0)),      # 12 March 2024
        (c, ma, b, ok & (ma > 0) & (b >= 1) & (c >= 0)),      # March 12, 2024
    ):
        idx = np.flatnonzero(valid)
        if len(idx) == 0:
            continue
        y = year[idx].copy()
        y = np.where(y < 100, np.where(y < 50, y + 2000, y + 1900), y)
        mo, d = mon[idx], day[idx]
        good = (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= _month_days(y, mo)) & (y >= 1900) & (y <= 2199)
        days.append((s[idx][good], (y * 10000 + mo * 100 + d)[good]))
    if not days:
        return np.zeros(0, dtype=np.uint64), e, e
    first = np.concatenate([f for f, _ in days])
    ymd = np.concatenate([v for _, v in days]).astype(np.uint64)
    return keyer.values(_domain(ymd, "date")), first, first + 2


def _small_numbers(toks: Tokens) -> np.ndarray:
    out = np.full(len(toks), -1, dtype=np.int64)
    digits = (toks.flags & DIGITS) != 0
    short = digits & (toks.lengths <= 4)
    idx = np.flatnonzero(short)
    value = np.zeros(len(idx), dtype=np.int64)
    norm = toks.norm.astype(np.int64)
    for k in range(4):
        has = toks.lengths[idx] > k
        value[has] = value[has] * 10 + norm[toks.nstarts[idx[has]] + k] - 48
    out[idx] = value
    return out


def _month_days(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    base = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(month, 0, 12)]
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    return base + ((month == 2) & leap)


def month_values(keyer) -> np.ndarray:
    """Keyed values of month names and their three-letter forms, in calendar order (12 + 12)."""
    return np.array([keyer.word(m) for m in MONTHS] + [keyer.word(m[:3]) for m in MONTHS], dtype=np.uint64)
