"""DOCX with python-docx: body paragraphs and tables, headers and footers."""

from __future__ import annotations

import io
import zipfile
from typing import Iterable, Iterator

from ..errors import ExtractionError
from ..types import Item, Part
from .base import Context, Output

ZIP_MAGIC = b"PK\x03\x04"


def zip_has(item: Item, member: str) -> bool:
    """True when the item is a zip archive with the named member."""
    try:
        source = io.BytesIO(item.data) if item.data is not None else item.path
        with zipfile.ZipFile(source) as archive:
            return member in set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False


class DocxExtractor:
    name = "docx"

    def sniff(self, head: bytes, item: Item) -> bool:
        return head.startswith(ZIP_MAGIC) and zip_has(item, "word/document.xml")

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        import docx

        data = item.read()
        ctx.budget.charge(len(data))
        try:
            document = docx.Document(io.BytesIO(data))
        except Exception as exc:
            raise ExtractionError("corrupt", f"DOCX cannot be opened: {type(exc).__name__}: {exc}"[:300]) from None
        lines = list(_body_lines(document))
        for section in document.sections:
            for part in (section.header, section.footer):
                if part is not None and not part.is_linked_to_previous:
                    lines.extend(p.text for p in part.paragraphs)
        yield Part(item.locator, "\n".join(lines), "docx")


def _body_lines(document) -> Iterator[str]:
    for paragraph in document.paragraphs:
        yield paragraph.text
    for table in document.tables:
        for row in table.rows:
            yield "\t".join(cell.text for cell in row.cells)
