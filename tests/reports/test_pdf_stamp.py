"""Personal copies: the stamp is text on every page, never markup, and the copy is still the
base document (pages, bookmarks, links) at about the same size."""

import io
import logging
import subprocess
from datetime import date

import pytest
from django.core.files.storage import storages
from pypdf import PdfReader, PdfWriter

from reports.models import ReportDocument
from reports.pdf.render import document_render
from reports.pdf.stamp import pdf_stamp
from reports.services import documents
from reports.services.seed import report_load_seed
from tests.reports.pdf_support import normalise, pdf_pages_text, seed_content
from tests.support.renders import install_rendered_bases

HOSTILE_NAME = '<img src="file:///etc/passwd">'
HOSTILE_COMPANY = "</p><h1>x url(http://127.0.0.1:6379)"


@pytest.fixture(scope="module")
def full(django_db_setup, django_db_blocker):
    return document_render(content=seed_content(django_db_blocker), kind="full").pdf


def _links(reader: PdfReader) -> list:
    return [
        (number, annotation.get_object().get("/Dest"), str(annotation.get_object().get("/A")))
        for number, page in enumerate(reader.pages)
        for annotation in page.get("/Annots", [])
    ]


def _outline(reader: PdfReader, items=None) -> list:
    flat = []
    for item in reader.outline if items is None else items:
        if isinstance(item, list):
            flat.append(_outline(reader, item))
        else:
            flat.append((item.title, reader.get_destination_page_number(item)))
    return flat


def test_stamped_copy_keeps_pages_bookmarks_and_links(full):
    stamped = pdf_stamp(base=full, text="Licensed to Acme — Enterprise — order R-1", metadata={})
    base_reader, copy_reader = PdfReader(io.BytesIO(full)), PdfReader(io.BytesIO(stamped.pdf))

    assert len(copy_reader.pages) == len(base_reader.pages) == stamped.page_count
    assert _outline(copy_reader) == _outline(base_reader)
    assert len(_outline(base_reader)) >= 10
    assert _links(copy_reader) == _links(base_reader)
    assert len(_links(base_reader)) > 40
    assert copy_reader.named_destinations.keys() == base_reader.named_destinations.keys()


def test_stamped_copy_is_at_most_one_and_a_half_times_the_base(full):
    stamped = pdf_stamp(base=full, text="Prepared for Jane Doe, Acme — 1 May 2025", metadata={})
    assert len(stamped.pdf) <= 1.5 * len(full)


def test_stamp_sits_on_every_page_over_the_original_content(full):
    stamped = pdf_stamp(base=full, text="Prepared for Ana, Beta — 2 June 2025", metadata={})
    assert stamped.fetcher.requested == []
    base_pages, copy_pages = pdf_pages_text(full), pdf_pages_text(stamped.pdf)
    for base_text, copy_text in zip(base_pages, copy_pages, strict=True):
        assert normalise(copy_text).startswith(normalise(base_text))
        assert normalise(copy_text).endswith("Prepared for Ana, Beta — 2 June 2025")


@pytest.mark.django_db
def test_visitor_values_are_literal_text_and_fetch_nothing(caplog):
    report = report_load_seed().report
    install_rendered_bases(report)
    caplog.clear()

    with caplog.at_level(logging.INFO, logger="reports.pdf.fetcher"):
        path = documents.sample_copy_create(
            report=report,
            name=HOSTILE_NAME,
            company=HOSTILE_COMPANY,
            prepared_on=date(2025, 11, 3),
            path_hint="samples/hostile",
        )

    assert [r for r in caplog.records if r.name == "reports.pdf.fetcher"] == []
    with storages["private"].open(path) as handle:
        copy = handle.read()
    stamp = f"Prepared for {HOSTILE_NAME}, {HOSTILE_COMPANY} — 3 November 2025"
    pages = pdf_pages_text(copy)
    assert len(pages) == ReportDocument.objects.get(report=report, kind="sample").page_count
    assert all(stamp in normalise(text) for text in pages)
    assert PdfReader(io.BytesIO(copy)).metadata["/Subject"] == stamp


def test_every_copy_is_one_complete_pdf_whose_cross_references_point_at_their_objects(full):
    """Copies are written from a template prepared once per base (reports/pdf/stamp.py): the
    cross-reference table is ours, so every entry is checked, and poppler reads the copy
    without a complaint."""
    first = pdf_stamp(base=full, text="Prepared for Jane Doe, Acme — 1 May 2025", metadata={})
    second = pdf_stamp(base=full, text="Prepared for Ana, Beta — 2 June 2025", metadata={})

    for copy in (first.pdf, second.pdf):
        reader = PdfReader(io.BytesIO(copy), strict=True)
        assert copy.count(b"%%EOF") == 1 and copy.count(b"/Type /XRef") == 1  # not incremental
        for number, offset in _xref(copy).items():
            assert copy[offset:].startswith(f"{number} 0 obj".encode()), number
        assert len(reader.pages) == first.page_count
        info = subprocess.run(["pdfinfo", "-"], input=copy, capture_output=True, check=True)
        assert info.stderr == b"", info.stderr
    assert first.pdf != second.pdf
    assert _trailer_id(first.pdf)[0] == _trailer_id(second.pdf)[0]  # the same document…
    assert _trailer_id(first.pdf)[1] != _trailer_id(second.pdf)[1]  # …in another copy


def test_copy_metadata_is_the_base_information_with_the_copy_own_entries(full):
    base_info = PdfReader(io.BytesIO(full)).metadata
    stamped = pdf_stamp(
        base=full, text="Licensed to Zoë Ünal", metadata={"/Subject": "Licensed to Zoë Ünal"}
    )
    info = PdfReader(io.BytesIO(stamped.pdf)).metadata
    assert info["/Subject"] == "Licensed to Zoë Ünal"
    assert info["/Title"] == base_info["/Title"] and info["/Producer"] == base_info["/Producer"]


def test_each_page_size_gets_its_own_stamp_and_pages_without_content_are_stamped_too():
    writer = PdfWriter()
    writer.add_blank_page(width=595.28, height=841.89)  # A4, no content stream at all
    writer.add_blank_page(width=612, height=792)  # US Letter
    writer.add_blank_page(width=595.28, height=841.89)
    base = io.BytesIO()
    writer.write(base)

    stamped = pdf_stamp(base=base.getvalue(), text="Prepared for Mixed Sizes", metadata={})

    reader = PdfReader(io.BytesIO(stamped.pdf), strict=True)
    assert [normalise(t) for t in pdf_pages_text(stamped.pdf)] == ["Prepared for Mixed Sizes"] * 3
    forms = [
        page["/Resources"]["/XObject"][name].indirect_reference.idnum
        for page in reader.pages
        for name in page["/Resources"]["/XObject"]
    ]
    assert forms[0] == forms[2] != forms[1]


def _xref(pdf: bytes) -> dict[int, int]:
    """Object number → offset of the objects written directly (the rest sit in object
    streams), from the copy's cross-reference stream."""
    reader = PdfReader(io.BytesIO(pdf), strict=True)
    assert reader.xref_objStm, "the structure tree's small objects are packed"
    for number in reader.xref_objStm:
        assert reader.get_object(number) is not None, number
    return dict(reader.xref[0])


def _trailer_id(pdf: bytes) -> list[bytes]:
    return [bytes(part.original_bytes) for part in PdfReader(io.BytesIO(pdf)).trailer["/ID"]]
