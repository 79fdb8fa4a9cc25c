"""Archives: zip (zip64, non-UTF-8 names, encrypted members), tar, the single-stream
compressors gzip, bzip2 and xz (and so their tar combinations), 7z as the optional
extra ``dlp[7z]``, and the archive formats dlp recognises but cannot open.

Members are read into memory under the limits and never written to disk; their
names, zip-slip ones included, only become locators.
"""

from __future__ import annotations

import bz2
import io
import lzma
import struct
import tarfile
import zipfile
import zlib
from typing import Iterable, Iterator

from ..errors import ExtractionError
from ..types import Item, Part, Problem
from .base import Context, Limits, Output, child, read_bytes
from .bounded import inflate, read_limited, refuse_declared
from .isolate import run_isolated

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


def _source(item: Item):
    return io.BytesIO(item.data) if item.data is not None else item.open()


def _too_many(item: Item, limits: Limits) -> Problem:
    return Problem(item.locator, "too_many", f"more than {limits.max_members} members; the rest are not read")


class ZipExtractor:
    """Zip archives. Encrypted members are `encrypted`; overlapping members (the
    overlapping-file zip bomb) are `ratio`; each breach skips one member only. The
    member names, member comments and the archive comment, which `unzip -l` and
    `unzip -z` show, are a text part of their own (``pack.zip!/names``)."""

    name = "zip"

    def sniff(self, head: bytes, item: Item) -> bool:
        return head[:4] in ZIP_MAGICS

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        with _source(item) as source:
            try:
                archive = zipfile.ZipFile(source)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, struct.error) as exc:
                raise ExtractionError("corrupt", f"zip cannot be opened: {exc}") from None
            with archive:
                names = names_text(archive)
                if names.strip():
                    yield Part(f"{item.locator}!/names", names, "zip-names")
                yield from self._members(item, archive, source, ctx)

    def _members(self, item: Item, archive: zipfile.ZipFile, source, ctx: Context) -> Iterator[Output]:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        overlapping = _overlapping(infos, source)
        if overlapping:
            yield Problem(
                item.locator, "ratio",
                f"{len(overlapping)} members share compressed data (overlapping-file zip bomb); they are not read",
            )
        for index, info in enumerate(infos):
            if index >= ctx.limits.max_members:
                yield _too_many(item, ctx.limits)
                return
            if id(info) in overlapping:
                continue
            ctx.budget.check_time()
            name = member_name(info)
            locator = f"{item.locator}!/{name}"
            try:
                data = read_zip_member(archive, info, ctx, name)
            except ExtractionError as exc:
                if exc.kind in ("timeout",) or (exc.kind == "too_large" and ctx.budget.remaining() == 0):
                    raise
                yield Problem(locator, exc.kind, exc.detail)
                continue
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError,
                    lzma.LZMAError, struct.error) as exc:
                yield Problem(locator, "corrupt", f"member cannot be read: {type(exc).__name__}: {exc}"[:300])
                continue
            yield child(item, name, data)

def read_zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, ctx: Context, name: str = "") -> bytes:
    """One member's bytes under the limits; encrypted and exotic members raise."""
    name = name or info.filename
    if info.flag_bits & 0x1 or info.compress_type == 99:
        raise ExtractionError("encrypted", f"{name} is password protected")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        raise ExtractionError("unsupported", f"{name} uses compression method {info.compress_type}")
    refuse_declared(ctx, name, info.file_size, info.compress_size)
    with archive.open(info) as stream:
        # zipfile checks the CRC at the end of the stream, so a lying header fails there
        return read_limited(stream, ctx, compressed=info.compress_size, what=name)


def names_text(archive: zipfile.ZipFile, names: list[str] | None = None) -> str:
    """The text a zip keeps outside its members: the member names (every member's,
    folders too, unless `names` says which), a line each; then member comments and the
    archive comment."""
    lines = [member_name(info) for info in archive.infolist()] if names is None else list(names)
    lines += [_comment(info.comment, info.flag_bits) for info in archive.infolist() if info.comment.strip()]
    if archive.comment.strip():
        lines.append(_comment(archive.comment, 0))
    return "\n".join(line for line in lines if line.strip())


def _comment(raw: bytes, flags: int) -> str:
    """A zip comment: UTF-8 when flagged or valid, else decoded by evidence (cp437 last)."""
    from .decoding import decode_text

    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return decode_text(raw) or raw.decode("cp437")


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name, recovering UTF-8 names stored without the UTF-8 flag."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name


def _overlapping(infos: list[zipfile.ZipInfo], source) -> set[int]:
    """ids of members whose compressed data overlaps another member's local header or data."""
    spans: list[tuple[int, int, zipfile.ZipInfo]] = []
    for info in infos:
        start = info.header_offset
        source.seek(start)
        header = source.read(30)
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            continue
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        spans.append((start, start + 30 + name_len + extra_len + info.compress_size, info))
    spans.sort(key=lambda span: span[0])
    bad: set[int] = set()
    for (start_a, end_a, info_a), (start_b, _, info_b) in zip(spans, spans[1:]):
        if start_b < end_a:
            bad.add(id(info_a))
            bad.add(id(info_b))
    return bad


class TarExtractor:
    """tar in every dialect the standard library reads (ustar, GNU, pax, sparse)."""

    name = "tar"

    def sniff(self, head: bytes, item: Item) -> bool:
        return len(head) >= 512 and head[257:262] == b"ustar" or _old_tar_header(head)

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        with _source(item) as source:
            try:
                archive = tarfile.open(fileobj=source, mode="r:")
            except (tarfile.TarError, EOFError, ValueError) as exc:
                raise ExtractionError("corrupt", f"tar cannot be opened: {exc}") from None
            with archive:
                names: list[str] = []
                yield from self._members(item, archive, ctx, names)
                if any(name.strip() for name in names):
                    yield Part(f"{item.locator}!/names", "\n".join(names), "tar-names")

    def _members(self, item: Item, archive: tarfile.TarFile, ctx: Context, names: list[str]) -> Iterator[Output]:
        """Members as child items; every member's name (folders and links too, with
        their targets) and its pax comment go to `names`."""
        count = 0
        while True:
            ctx.budget.check_time()
            try:
                member = archive.next()
            except (tarfile.TarError, EOFError, ValueError, RecursionError) as exc:
                yield Problem(item.locator, "corrupt", f"tar breaks off after {count} members: {exc}"[:300])
                return
            if member is None:
                return
            if len(names) <= ctx.limits.max_members:
                names.append(f"{member.name} -> {member.linkname}" if member.linkname else member.name)
                names.extend(value for key, value in member.pax_headers.items() if key == "comment")
            if not member.isfile():
                continue
            count += 1
            if count > ctx.limits.max_members:
                yield _too_many(item, ctx.limits)
                return
            locator = f"{item.locator}!/{member.name}"
            try:
                if member.size > ctx.limits.max_item_bytes:
                    raise ExtractionError("too_large", f"{member.name} declares {member.size} bytes")
                stream = archive.extractfile(member)
                if stream is None:
                    continue
                stored = sum(size for _, size in member.sparse) if member.sparse else member.size
                data = read_limited(stream, ctx, compressed=max(stored, 512), what=member.name)
            except ExtractionError as exc:
                if exc.kind == "timeout" or ctx.budget.remaining() == 0:
                    raise
                yield Problem(locator, exc.kind, exc.detail)
                continue
            except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
                yield Problem(locator, "corrupt", f"member cannot be read: {exc}"[:300])
                continue
            yield child(item, member.name, data)


def _old_tar_header(head: bytes) -> bool:
    """A pre-POSIX tar header: a valid checksum over the first 512 bytes."""
    if len(head) < 512 or head[0] == 0:
        return False
    try:
        stored = int(head[148:156].replace(b"\0", b" ").strip() or b"-1", 8)
    except ValueError:
        return False
    computed = sum(head[:148]) + 8 * 32 + sum(head[156:512])
    return stored == computed


_STREAMS = (
    # magic, format, decompressor factory, suffixes mapped to the inner name's suffix
    (b"\x1f\x8b", "gzip", lambda: zlib.decompressobj(31), {".tgz": ".tar", ".gz": "", ".gzip": ""}),
    (b"BZh", "bzip2", bz2.BZ2Decompressor, {".tbz2": ".tar", ".tbz": ".tar", ".bz2": "", ".bz": ""}),
    (b"\xfd7zXZ\x00", "xz", lzma.LZMADecompressor, {".txz": ".tar", ".xz": ""}),
    (b"\x5d\x00\x00", "lzma", lambda: lzma.LZMADecompressor(lzma.FORMAT_ALONE), {".tlz": ".tar", ".lzma": ""}),
)


class CompressedExtractor:
    """One compressed stream (gzip, bzip2, xz, lzma): its content is one child item."""

    name = "compressed"

    def sniff(self, head: bytes, item: Item) -> bool:
        return _stream_format(head, item) is not None

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        magic, fmt, make, suffixes = _stream_format(_peek(item), item)
        inner = inner_name(item.name, suffixes)
        with _source(item) as source:
            result = inflate(source, make, ctx, compressed=item.size, what=f"{fmt} stream")
        if result.damage:
            yield Problem(item.locator, "truncated", result.damage)
        yield child(item, inner, result.data)


def _stream_format(head: bytes, item: Item):
    for entry in _STREAMS:
        magic, fmt = entry[0], entry[1]
        if not head.startswith(magic):
            continue
        if fmt == "bzip2" and not (len(head) > 3 and head[3:4] in b"123456789"):
            continue
        if fmt == "lzma" and not item.name.lower().endswith((".lzma", ".tlz")):
            continue  # raw lzma has no real magic: trust it only with its suffix
        return entry
    return None


def _peek(item: Item) -> bytes:
    if item.data is not None:
        return item.data[:16]
    with item.open() as handle:
        return handle.read(16)


def inner_name(name: str, suffixes: dict[str, str]) -> str:
    base = name.rsplit("/", 1)[-1]
    lower = base.lower()
    for suffix, replacement in suffixes.items():
        if lower.endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)] + replacement
    return base + ".out"


class SevenZipExtractor:
    """7z through py7zr (the optional extra ``dlp[7z]``, LGPL), in a killable worker."""

    name = "7z"

    def sniff(self, head: bytes, item: Item) -> bool:
        return head.startswith(b"7z\xbc\xaf\x27\x1c")

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        try:
            import py7zr  # noqa: F401
        except ImportError:
            raise ExtractionError("unsupported", "7z needs the optional extra: pip install 'dlp[7z]'") from None
        yield from run_isolated(seven_zip_members, item, ctx)


def seven_zip_members(item: Item, limits: Limits) -> list[Output]:
    """Members of a 7z archive under the limits (runs in the worker)."""
    import py7zr
    from py7zr.io import Py7zIO, WriterFactory

    outputs: list[Output] = []
    total = [0]

    class Capped(Py7zIO):
        def __init__(self, name: str, compressed: int) -> None:
            self.name = name
            self.buffer = io.BytesIO()
            self.cap = min(limits.max_item_bytes, max(limits.ratio_floor_bytes, int(limits.max_ratio * compressed)))

        def write(self, data) -> int:
            total[0] += len(data)
            if self.buffer.tell() + len(data) > self.cap:
                raise ExtractionError("ratio", f"{self.name} expands past {self.cap} bytes")
            if total[0] > limits.max_total_bytes:
                raise ExtractionError("too_large", f"7z expands past {limits.max_total_bytes} bytes")
            return self.buffer.write(data)

        def read(self, size=None) -> bytes:
            return self.buffer.read(size)

        def seek(self, offset: int, whence: int = 0) -> int:
            return self.buffer.seek(offset, whence)

        def flush(self) -> None:
            pass

        def size(self) -> int:
            return self.buffer.getbuffer().nbytes

    class Factory(WriterFactory):
        def __init__(self, compressed: int) -> None:
            self.compressed = compressed
            self.products: dict[str, Capped] = {}

        def create(self, filename: str) -> Py7zIO:
            product = Capped(filename, self.compressed)
            self.products[filename] = product
            return product

    source = io.BytesIO(item.data) if item.data is not None else item.open()
    try:
        with source, py7zr.SevenZipFile(source, mode="r") as archive:
            if archive.needs_password():
                raise ExtractionError("encrypted", "7z archive is password protected")
            listed = archive.list()
            names = "\n".join(info.filename for info in listed[: limits.max_members] if info.filename)
            if names.strip():
                outputs.append(Part(f"{item.locator}!/names", names, "7z-names"))
            files = [info for info in listed if not info.is_directory]
            if len(files) > limits.max_members:
                outputs.append(_too_many(item, limits))
                files = files[: limits.max_members]
            compressed = max(1, item.size)
            wanted = []
            for info in files:
                if info.uncompressed and info.uncompressed > limits.max_item_bytes:
                    outputs.append(Problem(f"{item.locator}!/{info.filename}", "too_large",
                                           f"declares {info.uncompressed} bytes"))
                else:
                    wanted.append(info.filename)
            factory = Factory(compressed)
            archive.extract(targets=wanted, factory=factory)
    except ExtractionError:
        raise
    except py7zr.exceptions.PasswordRequired:
        raise ExtractionError("encrypted", "7z archive is password protected") from None
    except Exception as exc:
        if "password" in str(exc).lower():
            raise ExtractionError("encrypted", "7z archive is password protected") from None
        raise ExtractionError("corrupt", f"7z cannot be read: {type(exc).__name__}: {exc}"[:300]) from None
    for name, product in factory.products.items():
        outputs.append(child(item, name, product.buffer.getvalue()))
    return outputs


class ArExtractor:
    """Unix ar archives (static libraries, .deb packages), GNU and BSD long names."""

    name = "ar"

    def sniff(self, head: bytes, item: Item) -> bool:
        return head.startswith(b"!<arch>\n")

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        data = read_bytes(item, ctx)
        offset, count, long_names = 8, 0, b""
        while offset + 60 <= len(data):
            ctx.budget.check_time()
            header = data[offset : offset + 60]
            if header[58:60] != b"`\n":
                yield Problem(item.locator, "corrupt", f"bad ar member header at byte {offset}")
                return
            name = header[:16].rstrip(b" ")
            try:
                size = int(header[48:58].strip() or b"0")
            except ValueError:
                yield Problem(item.locator, "corrupt", f"bad ar member size at byte {offset}")
                return
            body = data[offset + 60 : offset + 60 + size]
            offset += 60 + size + (size & 1)
            if name == b"//":
                long_names = body
                continue
            if name in (b"/", b"/SYM64/", b"__.SYMDEF", b"__.SYMDEF SORTED"):
                continue
            if name.startswith(b"#1/"):  # BSD: the name leads the body
                length = int(name[3:] or b"0")
                name, body = body[:length].rstrip(b"\0"), body[length:]
            elif name.startswith(b"/") and name[1:].isdigit():  # GNU: an offset into the names table
                start = int(name[1:])
                name = long_names[start : long_names.find(b"/\n", start)]
            count += 1
            if count > ctx.limits.max_members:
                yield _too_many(item, ctx.limits)
                return
            yield child(item, name.rstrip(b"/").decode("utf-8", errors="replace"), body)


_UNSUPPORTED = (
    (b"Rar!\x1a\x07", "RAR"),
    (b"**ACE**", "ACE"),
    (b"\x60\xea", "ARJ"),
    (b"MSCF\0\0\0\0", "CAB"),
    (b"MSWIM\0\0\0", "WIM"),
    (b"xar!", "xar"),
)


class UnsupportedArchiveExtractor:
    """Archive formats dlp recognises but cannot open: reported, never called clean."""

    name = "unsupported-archive"

    def sniff(self, head: bytes, item: Item) -> bool:
        return any(head.startswith(magic) or head[7:14] == magic for magic, _ in _UNSUPPORTED)

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        head = _peek(item)
        label = next(label for magic, label in _UNSUPPORTED if head.startswith(magic) or head[7:14] == magic)
        yield Problem(item.locator, "unsupported", f"{label} archives are not opened; content not scanned")
