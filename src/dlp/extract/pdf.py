"""PDF page text with pdfminer.six; one part per document with page offsets."""

from __future__ import annotations

import io
from typing import Iterable

from ..errors import ExtractionError
from ..types import Item, Part
from .base import Context, Output


class PdfExtractor:
    name = "pdf"

    def sniff(self, head: bytes, item: Item) -> bool:
        return b"%PDF-" in head[:1024]

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        from pdfminer.converter import TextConverter
        from pdfminer.layout import LAParams
        from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
        from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
        from pdfminer.pdfpage import PDFPage
        from pdfminer.pdfparser import PDFSyntaxError

        data = item.read()
        ctx.budget.charge(len(data))
        manager = PDFResourceManager()
        chunks: list[str] = []
        pages: list[int] = []
        offset = 0
        try:
            for page in PDFPage.get_pages(io.BytesIO(data), check_extractable=False):
                ctx.budget.check_time()
                out = io.StringIO()
                device = TextConverter(manager, out, laparams=LAParams())
                try:
                    PDFPageInterpreter(manager, device).process_page(page)
                finally:
                    device.close()
                text = out.getvalue()
                pages.append(offset)
                chunks.append(text)
                offset += len(text)
        except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
            raise ExtractionError("encrypted", f"PDF is password protected ({type(exc).__name__})") from None
        except PDFSyntaxError as exc:
            raise ExtractionError("corrupt", f"PDF syntax error: {exc}") from None
        except ExtractionError:
            raise
        except Exception as exc:
            if "encrypt" in type(exc).__name__.lower() or "password" in str(exc).lower():
                raise ExtractionError("encrypted", f"PDF is password protected: {exc}") from None
            raise ExtractionError("corrupt", f"PDF cannot be parsed: {type(exc).__name__}: {exc}"[:300]) from None
        if not pages:
            raise ExtractionError("corrupt", "PDF has no readable pages")
        yield Part(item.locator, "".join(chunks), "pdf", pages=tuple(pages))
