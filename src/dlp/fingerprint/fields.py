"""Typed record fields: the same value, however a person or a CRM export writes it.

Exact data match compares field values of registered rows with the scanned text. Plain
text values are phrases (token n-grams, case and punctuation already normalised). Some
columns have a type, and then the value is matched by what it *is*:

======== ==========================================================================
``text``  the value's tokens in order (the default)
``email`` the same, which already ignores case (``GRETA.L@KUND11.SE``)
``phone`` its digits and letters run together: ``+46-190-861-340``, ``+46 190 861 340``
``id``    and ``(46) 190861340`` are one value; separators and grouping do not matter.
          A phone written with its country code also stands for its other forms:
          ``0046 8 555 123 45``, ``+46 (0)8 555 123 45`` and the national
          ``08-555 123 45`` (``(212) 555-0199`` for ``+1 212 555 0199``)
``name``  the set of its name words, in any order, adjacent or one word apart, linked
          by blanks, tabs (cells of one row), commas, dots, hyphens or apostrophes:
          ``Greta Lindqvist``, ``Lindqvist, Greta``, ``Greta M. Lindqvist``,
          ``Çelik-Müller``, ``O'Neill``; a name of three or four words also as its
          first and last word (``Greta Lindqvist`` for ``Greta Marie Lindqvist``)
``date``  the calendar day, in ISO (also ``19840307``), day/month/year, month/day/year
          and month-name forms (``March 7th, 1984``)
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

from ..text.normalise import DIGITS, Tokens, _P, _powers, fmix64, normalise_words, tokenise, tokenise_lines
from ..errors import InvalidValue
from ..arrays import distinct

TYPES = ("text", "email", "phone", "id", "name", "date")
JOINED = ("phone", "id")  # matched as their characters run together
_DOMAIN = {"phone": 0x1F3A, "id": 0x1F3A, "name": 0x2B71, "date": 0x3C55}  # phone and id share one space
MAX_JOINED_TOKENS = 8
MIN_JOINED_CHARS, MAX_JOINED_CHARS = 5, 32
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
_JOIN_GAP = frozenset(" -./()+")
_DATE_GAP = frozenset(" -./,")
_NAME_GAP = frozenset(" ,.-'\t\u2019\u2010")  # Lindqvist, Greta | Çelik-Müller | O'Neill | cells of a row
ORDINALS = ("st", "nd", "rd", "th")  # 7th: the letters after a day's number


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
    toks, line = tokenise_lines(texts)
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
        out = [[int(k)] if good else [] for k, good in zip(keyed.tolist(), ok.tolist())]
        lengths = set(chars[ok].tolist())
        if kind == "phone":  # the other ways to dial the same number
            forms = [(i, form) for i, text in enumerate(texts) if ok[i] for form in phone_forms(text)]
            if forms:
                toks = tokenise("\n".join(form for _, form in forms))
                values = keyer.values(_domain(_joined(toks, np.arange(len(forms)), np.ones(len(forms), dtype=np.int64)),
                                              kind))
                for (i, form), value in zip(forms, values.tolist()):
                    out[i].append(int(value))
                    lengths.add(len(form))
        return TypedColumn(out, empty, np.array(sorted(lengths), dtype=np.uint8))
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
            if size > 2:  # Greta Lindqvist for Greta Marie Lindqvist: the first and the last word
                for i, h in zip(which, _name_hash(matrix[:, [0, size - 1]]).tolist()):
                    out[i].append(int(h))
        return TypedColumn(out, distinct(np.concatenate(used)) if used else empty, np.zeros(0, dtype=np.uint8))
    raise InvalidValue(f"unknown record field type {kind!r}")


def parse_dates(text: str) -> list[int]:
    """yyyymmdd of the day(s) a written date may mean."""
    text = text.strip().lower()
    out = set()
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    if len(numbers) == 1 and re.fullmatch(r"\d{8}", text):  # 19840307
        return [d for d in (_ymd(numbers[0] // 10000, numbers[0] // 100 % 100, numbers[0] % 100),) if d]
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


# ITU-T E.164 country calling codes are prefix-free: 1 and 7, these 2-digit ones, all others 3 digits
_TWO_DIGIT_CODES = frozenset("20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 "
                             "62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98".split())
MIN_PHONE_FORM = 7  # national numbers shorter than this are not matched on their own


def phone_forms(text: str) -> list[str]:
    """The other ways to write a phone number given with its country code (``+46 8 555 123 45``
    or ``0046 ...``), as digits: with ``00`` for ``+``, with the trunk 0 in brackets
    (``+46 (0)8 ...``), national with the trunk 0 (``08-555 123 45``) and without it (as
    dialled in North America). Empty for a number given without a country code."""
    digits = "".join(normalise_words(text))
    if not digits.isdigit():
        return []
    if text.strip().startswith(("+", "\uff0b")):
        international = digits
    elif digits.startswith("00"):
        international = digits[2:]
    else:
        return []
    code_length = 1 if international[:1] in ("1", "7") else 2 if international[:2] in _TWO_DIGIT_CODES else 3
    code, national = international[:code_length], international[code_length:]
    national = national[1:] if national.startswith("0") else national  # +46 (0)8: the trunk 0 written in
    if len(national) < MIN_PHONE_FORM - 1:
        return []
    forms = {international, "00" + international, code + national, "00" + code + national, code + "0" + national,
             "0" + national}
    if code == "1":  # North America dials no trunk 0: (212) 555-0199 (elsewhere the bare national number
        forms.add(national)  # would be found inside another country's international one)
    forms.discard(digits)
    return sorted(f for f in forms if MIN_PHONE_FORM <= len(f) <= MAX_JOINED_CHARS)


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
    needed = distinct(np.concatenate([first + k for k in range(int(count.max()))]))
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


def _char_table(chars: frozenset[str]) -> tuple[np.ndarray, np.ndarray]:
    """A lookup table of the Latin-1 characters of a gap set, and its other characters."""
    table = np.zeros(256, dtype=bool)
    for c in chars:
        if ord(c) < 256:
            table[ord(c)] = True
    return table, np.array(sorted(ord(c) for c in chars if ord(c) >= 256), dtype=np.int64)


_GAP_TABLES = {"join": _char_table(_JOIN_GAP), "date": _char_table(_DATE_GAP), "name": _char_table(_NAME_GAP)}


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
    for kind, (table, wide) in _GAP_TABLES.items():
        ok = short.copy()
        for k in range(3):
            inside = ok & (size > k)
            chars = norm[np.minimum(a[inside] + k, len(norm) - 1)].astype(np.int64)
            good = np.zeros(len(chars), dtype=bool)
            small = chars < 256
            good[small] = table[chars[small]]
            if len(wide):
                good[~small] = np.isin(chars[~small], wide)
            ok[np.flatnonzero(inside)[~good]] = False
        out[kind] = ok
    return out


JOINED_BLOCK = 1 << 16  # start tokens of joined candidates hashed at a time


def _joined_candidates(toks: Tokens, gaps, keyer, allowed: np.ndarray | None):
    """Spans of tokens linked by separators only, with a digit, as long as some registered value."""
    n = len(toks)
    e = np.zeros(0, dtype=np.int64)
    has_digit = _has_digit(toks)
    link = gaps["join"]
    # chains of linked tokens; only those holding a digit can hold a phone or id
    chain = np.concatenate(([0], np.cumsum(~link))) if n > 1 else np.zeros(n, dtype=np.int64)
    holds_digit = np.zeros(int(chain[-1]) + 1 if n else 0, dtype=bool)  # per chain (numbered in order)
    holds_digit[chain[has_digit]] = True
    where = np.flatnonzero(holds_digit[chain])
    if len(where) == 0:
        return np.zeros(0, dtype=np.uint64), e, e
    lengths = toks.lengths.astype(np.int64)
    out_h, out_f, out_l = [], [], []
    # a block of start tokens at a time: text that is one long chain of short tokens
    # ("ab1cd2ef3...") has about MAX_JOINED_TOKENS candidates per token, and hashing them all at
    # once took 1.3 GB for 4 MB
    for block in (where[at:at + JOINED_BLOCK] for at in range(0, len(where), JOINED_BLOCK)):
        firsts, counts = [], []
        for m in range(1, MAX_JOINED_TOKENS + 1):
            starts = block[block + m <= n]
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
        if len(first):
            out_h.append(keyer.values(_domain(_joined(toks, first, count), "phone")))
            out_f.append(first)
            out_l.append(first + count - 1)
    if not out_h:
        return np.zeros(0, dtype=np.uint64), e, e
    return np.concatenate(out_h), np.concatenate(out_f), np.concatenate(out_l)


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
    """Days the part's tokens may write: triples of numbers and month names linked by date
    separators (an ordinal suffix glued to the day, as in ``7th``, is read past), and compact
    ISO days (``19840307``)."""
    n = len(toks)
    e = np.zeros(0, dtype=np.int64)
    number = _numbers(toks, 4)  # -1 where the token is not a number of at most 4 digits
    found = [_compact_days(toks)]
    # the tokens read: all but ordinal suffixes glued to a number
    ordinal = np.isin(values, months[24:]) & (np.append(-1, number[:-1]) >= 0) \
        & (toks.nstarts == np.append(-1, toks.nends[:-1]))
    kept = np.flatnonzero(~ordinal)
    link = gaps["date"]
    if len(kept) >= 3:
        step = np.diff(kept)
        linked = link[kept[:-1]] & np.where(step == 2, link[np.minimum(kept[:-1] + 1, max(0, n - 2))], True)
        month = np.full(n, -1, dtype=np.int64)
        for i, m in enumerate(months[:24].tolist()):
            month[values == np.uint64(m)] = (i % 12) + 1
        s = np.arange(len(kept) - 2)
        ok = linked[s] & linked[s + 1]
        a, b, c = number[kept[s]], number[kept[s + 1]], number[kept[s + 2]]
        ma, mb = month[kept[s]], month[kept[s + 1]]
        for year, mon, day, valid in (
            (a, b, c, ok & (a >= 1000)),                          # 2024-03-12
            (c, b, a, ok & (a >= 1) & (c >= 0) & (b >= 1)),       # 12/03/2024, 12.03.24
            (c, a, b, ok & (a >= 1) & (c >= 0) & (b >= 1)),       # 03/12/2024
            (c, mb, a, ok & (mb > 0) & (a >= 1) & (c >= 0)),      # 12 March 2024, 7th March 1984
            (c, ma, b, ok & (ma > 0) & (b >= 1) & (c >= 0)),      # March 12, 2024, March 7th, 1984
        ):
            idx = np.flatnonzero(valid)
            if len(idx) == 0:
                continue
            y = year[idx].copy()
            y = np.where(y < 100, np.where(y < 50, y + 2000, y + 1900), y)
            mo, d = mon[idx], day[idx]
            good = (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= _month_days(y, mo)) & (y >= 1900) & (y <= 2199)
            found.append((kept[s[idx][good]], kept[s[idx][good] + 2], (y * 10000 + mo * 100 + d)[good]))
    first, last, ymd = (np.concatenate(x) for x in zip(*found))
    if len(first) == 0:
        return np.zeros(0, dtype=np.uint64), e, e
    return keyer.values(_domain(ymd.astype(np.uint64), "date")), first, last


def _compact_days(toks: Tokens) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first, last, yyyymmdd) of the 8-digit tokens that are a day from 1900 to 2199."""
    value = _numbers(toks, 8, exactly=True)
    idx = np.flatnonzero(value >= 0)
    y, mo, d = value[idx] // 10000, value[idx] // 100 % 100, value[idx] % 100
    good = (y >= 1900) & (y <= 2199) & (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= _month_days(y, np.clip(mo, 0, 12)))
    return idx[good], idx[good], value[idx][good]


def _numbers(toks: Tokens, digits: int, exactly: bool = False) -> np.ndarray:
    """The value of every token made of at most (or exactly) `digits` digits; -1 for the others."""
    out = np.full(len(toks), -1, dtype=np.int64)
    lengths = toks.lengths
    fits = ((toks.flags & DIGITS) != 0) & ((lengths == digits) if exactly else (lengths <= digits))
    idx = np.flatnonzero(fits)
    value = np.zeros(len(idx), dtype=np.int64)
    for k in range(digits):
        has = lengths[idx] > k
        value[has] = value[has] * 10 + toks.norm[toks.nstarts[idx[has]] + k].astype(np.int64) - 48
    out[idx] = value
    return out


def _month_days(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    base = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(month, 0, 12)]
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    return base + ((month == 2) & leap)


def month_values(keyer) -> np.ndarray:
    """Keyed values of month names and their three-letter forms, in calendar order (12 + 12),
    then of the ordinal suffixes of days (``st``, ``nd``, ``rd``, ``th``)."""
    words = list(MONTHS) + [m[:3] for m in MONTHS] + list(ORDINALS)
    return np.array([keyer.word(w) for w in words], dtype=np.uint64)
