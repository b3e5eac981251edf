"""Helpers shared by the PDF tests: the seed report's content and text extraction."""

import io
import re

from django.db import transaction
from pypdf import PdfReader

from reports.pdf.content import report_content
from reports.services.seed import report_load_seed


def seed_content(django_db_blocker, **changes) -> dict:
    """The seed report's printable content, loaded in a transaction that is rolled back (so a
    module-scoped fixture can render it once without leaving rows behind)."""
    with django_db_blocker.unblock(), transaction.atomic():
        report = report_load_seed().report
        for name, value in changes.items():
            setattr(report, name, value)
        content = report_content(report=report)
        transaction.set_rollback(True)
    return content


def pdf_pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages]


def normalise(text: str) -> str:
    """pypdf breaks lines where the layout did; compare text with single spaces."""
    return " ".join(text.split())


def toc_page_numbers(contents_text: str) -> dict[str, int]:
    """{"1 Executive Summary": 4, …} from the chapter lines of the contents pages."""
    found = {}
    for line in contents_text.splitlines():
        match = re.match(r"^(\d+)\s+(\D.*?)[\s.]*?(\d+)$", line.strip())
        if match:
            number, title, page = match.groups()
            found[f"{number} {title.strip(' .')}"] = int(page)
    return found
