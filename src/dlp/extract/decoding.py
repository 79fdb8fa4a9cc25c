"""Bytes to text by evidence, so that no prefix, BOM or declared charset can steer
the scanner into reading a secret as noise.

The first bytes are a claim, not a fact. `decode` tries the claims (a BOM, a declared
charset) and the encodings the data itself points at (valid UTF-8; UTF-16 and UTF-32
from where the NUL bytes fall; charset-normalizer for legacy code pages), keeps the
first that decodes cleanly, and says when it is not sure. A doubtful decoding carries
the printable runs of the data in every byte encoding (`strings`), which the caller
scans as well, and a reason the policy sees as a `doubtful_encoding` problem.

Plain UTF-8 and ASCII, almost everything scanned, take the fast path: one strict
`bytes.decode`, one NUL count and a control-byte count on a 64 KiB sample.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

_SAMPLE = 65536
# Control bytes that do not occur in text (tab, newlines, form feed and escape do).
_CONTROL_BYTES = bytes(sorted(set(range(0, 32)) - {9, 10, 12, 13, 27}))
# Characters no text is made of: C0/C1 controls, replacement characters, lone surrogates.
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f-\x9f\ufffd\ud800-\udfff]")

_BOMS = (  # longest first: FF FE 00 00 is UTF-32LE, not UTF-16LE followed by a NUL
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Printable runs, at least 6 characters, in each byte encoding (Latin-1 range for the wide ones).
_PRINTABLE = rb"[\t\n\r\x20-\x7e]"
_WIDE = rb"[\t\n\r\x20-\x7e\xa0-\xff]"
_RUNS = (
    ("utf-8", re.compile(rb"(?:[\t\n\r\x20-\x7e]|[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}){6,}")),
    # legacy 8-bit text: three or more words of letters (accented ones included) with
    # spaces or punctuation between; random bytes almost never look like that
    # (a run starts where a word starts: tried inside a long word, it would fail again and
    # again to its end, quadratic in the word's length)
    ("latin-1", re.compile(rb"(?<![A-Za-z\xc0-\xff'\-])(?:[A-Za-z\xc0-\xff'\-]++[ \t\r\n,.;:!?()\"\xa0]{1,3}+){2,}+[A-Za-z\xc0-\xff'\-]++")),
    ("utf-32-le", re.compile(rb"(?:" + _WIDE + rb"\x00\x00\x00){6,}")),
    ("utf-32-be", re.compile(rb"(?:\x00\x00\x00" + _WIDE + rb"){6,}")),
    ("utf-16-le", re.compile(rb"(?:" + _WIDE + rb"\x00){6,}")),
    ("utf-16-be", re.compile(rb"(?:\x00" + _WIDE + rb"){6,}")),
)
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
_ASCII_RUNS = re.compile(rb"[\t\n\r\x20-\x7e]{6,}")
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _utf8_sequences_likely(data: bytes) -> bool:
    """Whether the high bytes of `data` (sampled at its start, middle and end) mostly
    form UTF-8 sequences, as in text; in random or compressed bytes few do, and the
    plain ASCII pattern, several times faster, finds the same runs there."""
    sample = data[:16384] + data[len(data) // 2:len(data) // 2 + 16384] + data[-16384:]
    high = len(sample) - len(sample.translate(None, bytes(range(0x80, 0x100))))
    if high == 0:
        return False
    in_sequences = sum(len(match) for match in _UTF8_SEQUENCE.findall(sample))
    return in_sequences >= 0.5 * high


@dataclass(frozen=True)
class Decoded:
    """Text decoded from bytes, the encoding chosen, and how sure the choice is.

    `doubt` is empty when the decoding is sound, else why it is not (reported as a
    `doubtful_encoding` problem). `strings` holds printable runs of the bytes in the
    byte encodings the text does not cover; the caller scans them as another part.
    """

    text: str
    encoding: str
    doubt: str = ""
    strings: str = ""


def decode(data: bytes, declared: str | None = None,
           worth_guessing: Callable[[bytes], bool] | None = None) -> Decoded | None:
    """Decode `data`; None when it is not text in any encoding (binary content).

    `declared` is a charset the container claims (a mail's Content-Type): it is
    believed only when it decodes the data cleanly and, for charsets that do not
    read ASCII as ASCII, only when the data is not plain UTF-8 already.
    `worth_guessing`, when given, is asked before a legacy code page is guessed (the
    guess costs a fifth of a millisecond even for 64 bytes): when it says no, the data is
    read as if no code page fitted.
    """
    if not data:
        return Decoded("", "utf-8")
    fast = _fast_utf8(data)
    if fast is not None and not declared:
        return fast
    nuls = data.count(0)
    doubts: list[str] = []
    if declared:
        chosen = _declared(data, declared, fast)
        if chosen is not None:
            return chosen
        doubts.append(f"declared charset {declared!r} does not fit the data")
    body, bom = _strip_bom(data)
    if bom is not None:
        claimed = _clean(body, bom)
        if claimed is not None and not _ascii_pairs(body, bom) and not _other_order(body, bom):
            return _finish(data, claimed, bom, doubts, nuls)
        if bom != "utf-8":
            doubts.append(f"{bom.upper()} byte-order mark does not fit the data; ignored")
    for encoding, offset in _wide_candidates(body if bom else data):
        source = (body if bom else data)[offset:]
        text = source.decode(encoding, errors="replace")
        if _bad_share(text) <= 0.01:
            return _finish(data, text, encoding, doubts, nuls)
    if _control_share(_without_wide_runs(body[:_SAMPLE])) > 0.01:
        # binary, whatever its first bytes claim: the caller scans its printable runs (unless it
        # is Chinese or Japanese in UTF-16, whose code units hold control bytes by the hundred)
        return None if bom is not None else _non_latin(data, doubts, nuls)
    utf8 = _utf8_mostly(body)
    if utf8 is not None:
        return _finish(data, utf8, "utf-8", doubts, nuls)
    guessed = _guess(body) if worth_guessing is None or worth_guessing(body) else None
    if guessed is None or not _windows_or_iso(guessed[0]):
        latin = _latin_in_ascii(body)
        guessed = ("cp1252", latin) if latin is not None else guessed
    if guessed is not None:
        if bom == "utf-8":  # a UTF-8 mark before text that is not UTF-8: which code page is a guess
            doubts.append(f"UTF-8 byte-order mark does not fit the data; read as {guessed[0]}")
        return _finish(data, guessed[1], guessed[0], doubts, nuls)
    if doubts or (nuls and _clean_around_wide_runs(body)):
        # a claim that failed, or narrow text with wide text in it: keep what can be read
        decoded = _finish(data, body.decode("utf-8", errors="replace"), "utf-8", doubts, nuls)
        if decoded.doubt:
            return decoded
        return Decoded(decoded.text, "utf-8", "no encoding decodes it cleanly", printable_runs(data, known=decoded.text))
    return None if bom is not None else _non_latin(data, doubts, nuls)


def _non_latin(data: bytes, doubts: list[str], nuls: int) -> Decoded | None:
    found = non_latin_utf16(data) or _iso2022_kr(data)
    return None if found is None else _finish(data, found[1], found[0], doubts, nuls)


_KS_X_1001 = re.compile("[^\x00-\xff\ufffd]")  # (beyond Latin-1: the decoder hands other 8-bit bytes on as Latin-1)


def _iso2022_kr(data: bytes) -> tuple[str, str] | None:
    """("iso2022_kr", text) for ISO-2022-KR: ASCII bytes where "ESC $ ) C" designates KS X 1001
    once and SO and SI shift in and out of it, so the control bytes made such a file binary
    and a Korean excerpt saved so went unread. Read when it decodes cleanly and what the shifts
    made is letters."""
    if b"\x1b$)C" not in data or b"\x0e" not in data:
        return None
    text = data.decode("iso2022_kr", errors="replace")
    shifted = "".join(_KS_X_1001.findall(text))  # (what the shifts made: Hangul, Hanja, Cyrillic, Greek...)
    bad = len(_BAD_CHARS.findall(text, 0, _SAMPLE))  # (controls and replacements: one for eight letters at most)
    return ("iso2022_kr", text) if len(shifted) >= 4 and bad * 8 <= len(shifted) and _reads_as_letters(shifted) \
        else None


NON_LATIN_SAMPLE = 4096  # bytes of a candidate read before the whole is decoded


def non_latin_utf16(data: bytes) -> tuple[str, str] | None:
    """(encoding, text) when `data` is UTF-16 (either end) without a byte-order mark in a script
    other than Latin: Chinese, Japanese, Korean, Thai, Cyrillic, Greek, Arabic, Hebrew, Indic...
    The NULs that point at UTF-16 are there only when its letters are Latin (Chinese has no
    blank either; the blanks of Russian are a NUL in every sixth code unit, too few), so such a
    file passed for binary and its text went unread. Four fifths of what is not white space
    must be letters (vowel signs and other marks with them), four fifths of the letters of one
    script (kana and ideographs are one), not Latin, and one code unit in seven or more one
    that text in a byte encoding read two bytes at a time does not make: a low byte of 0x80 or
    above (half of Chinese and Korean), or a high byte below 0x20 (the scripts from U+0370 to
    U+1FFF, and the blank U+0020). English read as UTF-16 is four fifths "ideographs", but from
    printable bytes below 0x80. No character may be private-use, unassigned or a control, and
    one in fifty at most a symbol. Random bytes fail the strict decoding or these (none of
    100,000 runs of 64 to 256 bytes), and so does text in a byte encoding (none of 7,287 corpus
    texts)."""
    if len(data) < 64 or len(data) % 2:
        return None
    for codec in ("utf-16-le", "utf-16-be"):
        # a few code units first (random bytes seldom read as letters), then a sample, cut
        # before a pair of surrogates its edge would split
        if not mostly_letters(data[:256].decode(codec, errors="replace"), 7):
            continue
        head = data[:NON_LATIN_SAMPLE]
        last = head[-2:] if codec == "utf-16-le" else head[-2:][::-1]
        if len(head) < len(data) and 0xD8 <= last[1] <= 0xDB:
            head = head[:-2]
        try:
            sample = head.decode(codec)
        except UnicodeDecodeError:
            continue
        if _reads_as_script(sample):
            try:
                return codec, data.decode(codec)
            except UnicodeDecodeError:
                continue
    return None


def mostly_letters(text: str, tenths: int = 8) -> bool:
    """Whether `tenths` tenths or more of what is not white space are letters, vowel signs and
    other marks with them (the text reads as words, not as noise a decoding made)."""
    visible = "".join(text.split())
    letters = sum(ch.isalpha() or unicodedata.category(ch)[0] == "M" for ch in visible)
    return len(visible) > 0 and letters * 10 >= len(visible) * tenths


def _script(ch: str) -> str:
    """The script of a letter, as the first word of its name says (kana and ideographs: CJK)."""
    word = unicodedata.name(ch, "?").split(" ", 1)[0]
    return "CJK" if word in ("HIRAGANA", "KATAKANA", "CJK", "HALFWIDTH") else word


def _reads_as_letters(text: str) -> bool:
    """Four fifths letters (`mostly_letters`), no private-use, unassigned or control character
    (random code units make many), and one symbol in fifty at most (random units: box drawing,
    control pictures...): words, not what a wrong decoding makes of bytes."""
    if not mostly_letters(text):
        return False
    categories = [unicodedata.category(ch) for ch in "".join(text.split())]
    symbols = sum(c[0] == "S" for c in categories)
    return not any(c in ("Co", "Cn", "Cs", "Cc") for c in categories) and symbols * 50 <= len(categories)


def _main_script(text: str) -> str | None:
    """The script of four fifths of the letters of `text` or more (kana and ideographs are one),
    or None (no letters; or many scripts, as random code units make: Hangul, ideographs, Yi...)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return None
    script, count = Counter(map(_script, letters)).most_common(1)[0]
    return script if count * 5 >= len(letters) * 4 else None


def _reads_as_script(text: str) -> bool:
    return _reads_as_letters(text) and _main_script(text) not in (None, "LATIN") and not _byte_pairs(text)


def _byte_pairs(text: str) -> bool:
    """Whether `text` may be text in a byte encoding read two bytes a character (ASCII read as
    UTF-16 is four fifths "ideographs"): fewer than one character in seven with a low byte of
    0x80 or above (half of Chinese and Korean) or below U+2000 (the scripts from U+0370 on)."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    unusual = ((codes & 0xFF) >= 0x80) | (codes < 0x2000)
    return int(unusual.sum()) * 7 < len(codes)


def decode_text(data: bytes) -> str | None:
    """The text of `data` by `decode`, or None for binary content. Callers that can
    report doubt and scan printable runs use `decode` instead."""
    decoded = decode(data)
    return None if decoded is None else decoded.text


def printable_runs(data: bytes, skip: tuple[str, ...] = (), known: str = "") -> str:
    """Printable runs of at least 6 characters of `data` in every byte encoding: UTF-8
    (ASCII included), Latin-1 (runs that are not UTF-8), UTF-32LE/BE and UTF-16LE/BE
    (Latin-1 range), in the order they occur. Where readings of the same bytes overlap
    (a UTF-32BE run is a UTF-32LE run three bytes on; Latin-1 text holds short UTF-8
    runs), the longest is kept. A run that `known` (the text of a decoding already
    scanned) holds is left out, when that check is cheap."""
    found: list[tuple[bool, int, int, str]] = []  # wide, start, end, text
    for encoding, pattern in _RUNS[:2]:
        if encoding in skip or (encoding == "latin-1" and not _HIGH_BYTE.search(data)):
            continue
        if encoding == "utf-8" and not _utf8_sequences_likely(data):
            pattern = _ASCII_RUNS  # same runs, minus multi-byte characters that are not there
        for match in pattern.finditer(data):
            raw = match.group()
            if encoding == "latin-1" and (not _HIGH_BYTE.search(raw) or _is_utf8(raw)):
                continue
            found.append((False, match.start(), match.end(), raw.decode(encoding, errors="replace")))
    found.extend((True, start, end, text) for encoding, start, end, text in _wide_runs(data) if encoding not in skip)
    kept: list[tuple[bool, int, int, str]] = []
    last = {False: -1, True: -1}  # index in `kept` of the last narrow and the last wide run
    for run in sorted(found, key=lambda r: (r[1], r[0])):
        # of two readings of the same bytes (of one width) the longer stays; narrow and
        # wide runs, and neighbouring runs, share a few bytes at their edges, which says nothing
        wide, start, end, _ = run
        previous = last[wide]
        if previous >= 0 and _same_bytes(run, kept[previous]):
            length, other = end - start, kept[previous][2] - kept[previous][1]
            if length > other:
                kept[previous] = run
            if length != other or run[3] == kept[previous][3]:
                continue
            # of equal length: a reading that borrowed a neighbour's space is the shifted
            # one; when neither did, neither can be told apart and both stay
            mine, theirs = _borrowed(run[3]), _borrowed(kept[previous][3])
            if mine != theirs:
                if theirs:
                    kept[previous] = run
                continue
        last[wide] = len(kept)
        kept.append(run)
    runs = [text for _, _, _, text in kept]
    if known and len(runs) * len(known) <= _DEDUPE_BUDGET:
        runs = [run for run in runs if run.strip(_EDGE) not in known]
    return "\n".join(runs)


_DEDUPE_BUDGET = 200_000_000  # characters compared, at most, to drop runs the text already has
_EDGE = "".join(chr(c) for c in range(0x100) if not 0x21 <= c <= 0x7E)


def printable_strings(data: bytes) -> str:
    """Printable runs of unknown binary content (every byte encoding)."""
    return printable_runs(data)


# --- internals ---------------------------------------------------------------------


_AROUND = 4096  # bytes of narrow text read on each side of a wide run


def _nul_windows(data: bytes) -> list[tuple[int, int]]:
    """Stretches of `data` around its NUL bytes, where wide runs can be (all of it when
    NULs are everywhere): a text file with a UTF-16 sentence in it is searched for wide
    runs around that sentence only."""
    count = data.count(0)
    if count == 0:
        return []
    if count > len(data) // 64:
        return [(0, len(data))]
    windows: list[list[int]] = []
    position = data.find(0)
    while position >= 0:
        if windows and position - 8 <= windows[-1][1] + 64:
            windows[-1][1] = position + 8
        else:
            windows.append([max(0, position - 8), position + 8])
        position = data.find(0, position + 1)
    return [(start, min(len(data), end)) for start, end in windows]


def _wide_runs(data: bytes) -> list[tuple[str, int, int, str]]:
    """(encoding, start, end, text) of the UTF-32 and UTF-16 runs of `data`."""
    out = []
    for start, end in _nul_windows(data):
        window = data[start:end]
        for encoding, pattern in _RUNS[2:]:
            if encoding.startswith("utf-32") and b"\0\0\0" not in window:
                continue
            for match in pattern.finditer(window):
                out.append((encoding, start + match.start(), start + match.end(),
                            match.group().decode(encoding, errors="replace")))
    return out


def _runs_around_wide(data: bytes) -> str:
    spans = sorted((start, end) for _, start, end, _ in _wide_runs(data))
    windows: list[list[int]] = []
    for start, end in spans:
        start, end = max(0, start - _AROUND), min(len(data), end + _AROUND)
        if windows and start <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], end)
        else:
            windows.append([start, end])
    return "\n".join(printable_runs(data[start:end]) for start, end in windows)


def _same_bytes(run: tuple, other: tuple) -> bool:
    """Whether two runs are readings of mostly the same bytes (neighbours share at most
    the few bytes of one code unit at their edges)."""
    overlap = min(run[2], other[2]) - max(run[1], other[1])
    return overlap > 0 and 2 * overlap > min(run[2] - run[1], other[2] - other[1])


def _borrowed(text: str) -> bool:
    """Whether a run starts or ends with white space (taken from the bytes next to it)."""
    return text[:1].isspace() or text[-1:].isspace()


def _fast_utf8(data: bytes) -> Decoded | None:
    """Strict UTF-8 without NULs and with few control bytes: almost every text file."""
    body = data[3:] if data.startswith(codecs.BOM_UTF8) else data
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.end != len(body) or exc.start < len(body) - 3:
            return None
        text = body[: exc.start].decode("utf-8")  # cut in the middle of the last character
    if b"\0" in body or _control_share(body) > 0.01:
        return None
    return Decoded(text, "utf-8")


def _control_share(data: bytes) -> float:
    sample = data[:_SAMPLE]
    if not sample:
        return 0.0
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return 0.0 if controls <= 8 else controls / len(sample)


def _without_wide_runs(sample: bytes) -> bytes:
    """The sample without UTF-16/UTF-32 runs, whose NULs say "wide text", not "binary"."""
    if b"\0" not in sample:
        return sample
    for _, pattern in _RUNS[2:]:
        sample = pattern.sub(b" ", sample)
    return sample


def _clean_around_wide_runs(data: bytes) -> bool:
    """Whether `data` is clean UTF-8 once its UTF-16/UTF-32 runs are taken out (text with
    wide text in it, not a binary format that happens to have few control bytes)."""
    rest = _without_wide_runs(data[:_SAMPLE])
    return len(rest) < len(data[:_SAMPLE]) and _bad_share(rest.decode("utf-8", errors="replace")) <= 0.01


def _bad_share(text: str) -> float:
    sample = text[:_SAMPLE]
    if not sample:
        return 0.0
    bad = len(_BAD_CHARS.findall(sample))
    return 0.0 if bad <= 4 else bad / len(sample)


def _strip_bom(data: bytes) -> tuple[bytes, str | None]:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom):], encoding
    return data, None


def _clean(data: bytes, encoding: str) -> str | None:
    """`data` strictly decoded with `encoding` into text with few control characters, else None."""
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    return text if _bad_share(text) <= 0.01 else None


def _ascii_transparent(encoding: str) -> bool:
    """Whether the encoding reads printable ASCII as itself (UTF-16, UTF-7, EBCDIC do not)."""
    probe = bytes(range(0x20, 0x7F)).replace(b"+", b"").replace(b"~", b"").replace(b"\\", b"")
    try:
        return probe.decode(encoding) == probe.decode("ascii") and encoding.replace("_", "-").lower() not in _STATEFUL
    except (UnicodeDecodeError, LookupError):
        return False


_STATEFUL = {"utf-7", "hz", "iso2022-jp", "iso-2022-jp", "iso2022-jp-1", "iso2022-jp-2", "iso2022-jp-2004",
             "iso2022-jp-3", "iso2022-jp-ext", "iso2022-kr", "iso-2022-kr", "iso-2022-jp-2"}


def _ascii_pairs(data: bytes, encoding: str) -> bool:
    """Whether a UTF-16 reading of `data` would turn a run of ASCII text into ideographs:
    24 printable ASCII bytes in a row are 12 code units whose two bytes are both ASCII,
    common one at a time in CJK text (about one in five) and never twelve in a row."""
    return encoding.replace("_", "-").startswith("utf-16") and _has_ascii_run(data)


# printable ASCII bytes to b"A", every other byte to b"."; a run is then a plain find
_ASCII_MAP = bytes(0x41 if b in (9, 10, 13) or 0x20 <= b <= 0x7E else 0x2E for b in range(256))
_ASCII_RUN_BYTES = 24
_WINDOW = 4 * 1024 * 1024


def _has_ascii_run(data: bytes) -> bool:
    """Whether `data` holds 24 printable ASCII bytes in a row (in 4 MiB windows, so that
    the translated copy stays small)."""
    needle = b"A" * _ASCII_RUN_BYTES
    for start in range(0, len(data), _WINDOW):
        if data[start:start + _WINDOW + _ASCII_RUN_BYTES].translate(_ASCII_MAP).find(needle) >= 0:
            return True
    return False


def _declared(data: bytes, declared: str, fast: Decoded | None) -> Decoded | None:
    encoding = declared.strip().lower()
    try:
        encoding = codecs.lookup(encoding).name
    except LookupError:
        return None
    if encoding.replace("_", "-") in _STATEFUL:
        # 7-bit encodings that switch to double bytes on an escape (ISO-2022-JP, UTF-7, HZ):
        # honest mail uses them, so they are believed, and the bytes are also read as ASCII.
        text = _clean(data, encoding)
        return None if text is None else Decoded(text, encoding, "", printable_runs(data))
    if not _ascii_transparent(encoding):
        if fast is not None:
            return None  # plain UTF-8 that claims to be UTF-16, UTF-32 or EBCDIC
        body, _ = _strip_bom(data)
        text = _clean(body, encoding)
        if text is None or _ascii_pairs(body, encoding):
            return None
        return _finish(data, text, encoding, [], data.count(0))
    if fast is not None and (data.isascii() or encoding == "utf-8"):
        return fast
    text = _clean(data[3:] if encoding == "utf-8" and data.startswith(codecs.BOM_UTF8) else data, encoding)
    if text is None:
        return None
    return _finish(data, text, encoding, [], data.count(0))


def _other_order(body: bytes, bom: str) -> bool:
    """Whether the NUL bytes of `body` point at a UTF-16 or UTF-32 reading other than the one
    its byte-order mark claims: little-endian text behind a big-endian mark (two bytes a sender
    can add) read cleanly as ideographs ("瀀漀渀" for "pon"), and the excerpt went unread."""
    candidates = [encoding for encoding, _ in _wide_candidates(body)]
    return bom.startswith("utf-") and bom != "utf-8" and bool(candidates) and bom not in candidates


def _wide_candidates(data: bytes) -> list[tuple[str, int]]:
    """(encoding, offset) for UTF-32 and UTF-16 readings the NUL bytes point at."""
    sample = data[: _SAMPLE - _SAMPLE % 4]
    units = len(sample) // 4
    if units < 2 or b"\0" not in sample:
        return []
    zeros = [sum(1 for b in sample[k::4] if b == 0) for k in range(4)]
    mostly = [z >= 0.9 * units for z in zeros]
    rarely = [z <= 0.2 * units for z in zeros]
    out: list[tuple[str, int]] = []
    if sum(mostly) == 3 and sum(rarely) == 1:
        p = rarely.index(True)  # the one byte of each code unit that is not zero
        out.append(("utf-32-be", 0) if p == 3 else ("utf-32-le", p))
    pairs = len(sample) // 2
    even, odd = zeros[0] + zeros[2], zeros[1] + zeros[3]
    if odd >= 0.6 * pairs and even <= 0.2 * pairs:
        out.append(("utf-16-le", 0))
    elif even >= 0.6 * pairs and odd <= 0.2 * pairs:
        out.append(("utf-16-be", 0))
    return out


RAW_BYTE = re.compile("[\udc80-\udcff]")  # an invalid byte, as Python's surrogateescape hands it out


def _utf8_mostly(data: bytes) -> str | None:
    """UTF-8 with a handful of invalid bytes (a stray prefix, a Latin-1 character) is still
    UTF-8. Each invalid byte reads as Windows-1252, as a viewer that gives up on UTF-8 shows
    it, not as a replacement character that cuts the word it sits in: a Latin-1 soft hyphen
    (0xAD) in every fifth word of an excerpt, invisible on screen, once hid the excerpt."""
    text = data.decode("utf-8", errors="surrogateescape")
    bad = len(RAW_BYTE.findall(text))
    replaced = RAW_BYTE.sub("\ufffd", text) if bad else text
    if (bad <= 4 or bad <= len(text) // 1000) and _bad_share(replaced) <= 0.01:
        return RAW_BYTE.sub(lambda m: bytes([ord(m.group()) - 0xDC00]).decode("cp1252", errors="replace"), text) \
            if bad else text
    return None


_HIGH_RUN = re.compile(rb"[\x80-\xff]+")
LATIN_IN_ASCII = 0.05  # at most this share of single non-ASCII bytes in ASCII text: Windows-1252, not a guess


def _windows_or_iso(encoding: str) -> bool:
    return encoding.lower().replace("_", "-").startswith(("cp125", "windows-125", "iso8859", "iso-8859", "latin"))


def _latin_in_ascii(data: bytes) -> str | None:
    """ASCII text with a few non-ASCII bytes, each alone between ASCII characters, read as
    Windows-1252 when charset-normalizer guessed no Windows or ISO code page: a Latin-1 letter
    or soft hyphen here and there, not a multi-byte script (whose characters come in runs of
    such bytes). It guessed Big5 or CP852 for such text, and either reading cut the words
    round a Latin-1 soft hyphen (0xAD) that shows as nothing."""
    most = max(1, int(len(data) * LATIN_IN_ASCII))
    count = 0
    for run in _HIGH_RUN.finditer(data):
        count += 1
        if run.end() - run.start() > 1 or count > most:
            return None
    if count == 0:
        return None
    text = data.decode("cp1252", errors="replace")
    return text if _bad_share(text) <= 0.01 else None


def clean_readings(data: bytes, encodings: Iterable[str]) -> Iterator[str]:
    """`data` read in each of `encodings` that reads it as `_guess` accepts a guess: with
    at most one character in a hundred a control or a replacement for bytes it cannot decode."""
    for encoding in encodings:
        text = data.decode(encoding, errors="replace")
        if text.count("\ufffd", 0, _SAMPLE) <= max(4, min(len(text), _SAMPLE) // 100) and _bad_share(text) <= 0.01:
            yield text  # (the replacement characters counted first: most readings of noise are full of them)


def _guess(data: bytes) -> tuple[str, str] | None:
    from charset_normalizer import from_bytes

    best = from_bytes(data[: 4 * 1024 * 1024]).best()
    if best is None:
        return None
    try:
        text = data.decode(best.encoding, errors="replace")
    except LookupError:
        return None
    if _bad_share(text) > 0.01:
        return None
    return best.encoding, text


def _finish(data: bytes, text: str, encoding: str, doubts: list[str], nuls: int) -> Decoded:
    """The chosen reading, with what makes it doubtful and what else must be scanned."""
    doubts = list(doubts)
    bad = _bad_share(text) > 0.01
    if bad:
        doubts.append("many characters decode to controls or replacement characters")
    transparent = _ascii_transparent(encoding)
    mixed = transparent and nuls and bool(_wide_runs(data))
    if mixed:
        doubts.append("wide (UTF-16/UTF-32) text hidden among text of another encoding")
    pairs = not transparent and _ascii_pairs(data, encoding)
    if pairs:
        doubts.append(f"ASCII text hidden in a {encoding.upper()} reading")
    strings = ""
    if mixed and not bad:
        # narrow text with wide text in it: the wide runs with the narrow text around them,
        # in order, so that a text whose encoding switches every few words reads on in one
        # part (the narrow text as a whole is the reading itself)
        strings = _runs_around_wide(data)
    elif bad or mixed or pairs:
        strings = printable_runs(data, known="" if mixed else text)
    elif not transparent and not encoding.replace("_", "-").startswith(("utf-16", "utf-32")):
        strings = printable_runs(data, known=text)  # EBCDIC and the like: the bytes read as ASCII too
    # a claim (BOM, charset) that did not fit, over a clean reading: nothing more to read
    return Decoded(text, encoding, "; ".join(doubts), strings)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False
