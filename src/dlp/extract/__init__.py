"""Extractors, tried in this order; the first whose `sniff` accepts an item reads it."""

from __future__ import annotations

from .base import Context, Extractor, Limits, walk
from .docx import DocxExtractor
from .pdf import PdfExtractor
from .text import HtmlExtractor, StringsExtractor, TextExtractor

EXTRACTORS: tuple[Extractor, ...] = (
    PdfExtractor(),
    DocxExtractor(),
    HtmlExtractor(),
    TextExtractor(),
    StringsExtractor(),
)

__all__ = ["Context", "Extractor", "Limits", "walk", "EXTRACTORS"]
