"""Helpers shared by the PDF tests: text extraction and the seed report's content."""

import io

from pypdf import PdfReader


def pdf_pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages]


def normalise(text: str) -> str:
    """pypdf breaks lines where the layout did; compare text with single spaces."""
    return " ".join(text.split())
