"""The full report and the sample rendered from the seed report, read back with pypdf."""

import io
from decimal import Decimal

import pytest
from django.conf import settings
from pypdf import PdfReader

from reports.pdf.charts import nice_ticks
from reports.pdf.content import forecast_rows
from reports.pdf.render import document_render
from tests.reports.pdf_support import normalise, pdf_pages_text, seed_content, toc_page_numbers

CHAPTERS = [
    "1 Executive Summary",
    "2 Market Overview and Dynamics",
    "3 Segmentation by Type",
    "4 Segmentation by Application",
    "5 Regional Analysis",
    "6 Market Forecast 2025–2032",
    "7 Competitive Landscape",
    "8 Methodology and Assumptions",
    "9 Licence Terms and Disclaimer",
]


@pytest.fixture(scope="module")
def content(django_db_setup, django_db_blocker):
    return seed_content(django_db_blocker)


@pytest.fixture(scope="module")
def full(content):
    return document_render(content=content, kind="full")


@pytest.fixture(scope="module")
def sample(content):
    return document_render(content=content, kind="sample")


def _chapter_start_pages(pages: list[str]) -> dict[str, int]:
    """Page number (1-based) of the first page whose text opens with a chapter heading."""
    starts = {}
    for number, text in enumerate(pages, start=1):
        opening = normalise(text)[:80]
        for title in CHAPTERS:
            if opening.startswith(title) and title not in starts:
                starts[title] = number
    return starts


def test_full_report_has_every_chapter_and_the_contents_point_at_their_first_pages(full):
    pages = pdf_pages_text(full.pdf)
    toc = toc_page_numbers(pages[1] + "\n" + pages[2])
    starts = _chapter_start_pages(pages)

    assert list(toc) == CHAPTERS
    assert starts == toc
    assert full.page_count == len(pages) > 12


def test_bookmarks_follow_the_chapters_to_the_same_pages(full):
    reader = PdfReader(io.BytesIO(full.pdf))
    chapters = {
        item.title: reader.get_destination_page_number(item) + 1
        for item in reader.outline
        if not isinstance(item, list) and item.title[0].isdigit()
    }
    toc = toc_page_numbers("\n".join(pdf_pages_text(full.pdf)[1:3]))
    assert chapters == toc


def test_every_page_after_the_cover_has_the_running_header_and_page_x_of_y(full):
    pages = pdf_pages_text(full.pdf)
    total = len(pages)
    for number, text in enumerate(pages[1:], start=2):
        flat = normalise(text)
        assert "Clinical Trials Site Management Organizations Market, 2025–2032" in flat
        assert f"Page {number} of {total}" in flat
    assert "Page 1 of" not in pages[0]


def test_forecast_table_compounds_the_cagr_from_an_index_of_100(full, content):
    text = normalise("\n".join(pdf_pages_text(full.pdf)))
    assert "Index, 2025 = 100" in text
    for offset, year in enumerate(range(2025, 2033)):
        expected = (Decimal(100) * Decimal("1.137") ** offset).quantize(Decimal("0.1"))
        assert f"{year} {expected}" in text, f"{year} should be {expected}"


def test_forecast_rows_compound_a_base_size_in_currency():
    rows = forecast_rows(start_year=2025, end_year=2032, cagr_percent="10", base_size="1000")
    assert [row["value"] for row in rows] == [
        Decimal(v)
        for v in ("1000.0", "1100.0", "1210.0", "1331.0", "1464.1", "1610.5", "1771.6", "1948.7")
    ]
    assert rows[0]["growth"] is None
    assert all(abs(row["growth"] - 10) < Decimal("1e-9") for row in rows[1:])


def test_report_with_a_base_size_shows_currency_values_not_an_index(django_db_blocker):
    content = seed_content(django_db_blocker, base_year_market_size=Decimal("2500.00"))
    sample = document_render(content=content, kind="sample")
    text = normalise("\n".join(pdf_pages_text(sample.pdf)))
    end = Decimal(2500) * Decimal("1.137") ** 7  # 6141.35…
    assert "USD 2,500m Market size 2025" in text
    assert f"USD {end:,.0f}m Forecast 2032" in text
    assert "Index, 2025 = 100" not in text


def test_sample_has_the_subset_a_sample_mark_on_every_page_and_a_how_to_buy_page(sample):
    pages = pdf_pages_text(sample.pdf)
    starts = _chapter_start_pages(pages)
    assert list(starts) == [CHAPTERS[0], CHAPTERS[1], CHAPTERS[7]]
    assert all("SAMPLE" in text for text in pages[1:])
    closing = normalise(pages[-1])
    assert closing.startswith("How to buy the full report")
    assert f"{settings.SITE_URL}/purchase/1780960" in closing
    assert "USD 3,900" in closing and "USD 7,900" in closing
    contents = normalise(pages[1])
    assert "5 Regional Analysis FULL REPORT 5.1 Regional shares 5.2" in contents


def test_sample_links_to_the_purchase_page_with_absolute_urls(sample):
    reader = PdfReader(io.BytesIO(sample.pdf))
    uris = {
        annotation.get_object()["/A"]["/URI"]
        for page in reader.pages
        for annotation in page.get("/Annots", [])
        if "/URI" in annotation.get_object().get("/A", {})
    }
    assert f"{settings.SITE_URL}/purchase/1780960" in uris
    assert all(uri.startswith(f"{settings.SITE_URL}/") for uri in uris)


def test_render_fetched_only_the_project_stylesheet_and_cover_art(full):
    assert full.fetcher.refused == []
    assert sorted(url.rsplit("/static/", 1)[1] for url in full.fetcher.served) == [
        "pdf/cover.svg",
        "pdf/report.css",
    ]


def test_nice_ticks_are_round_and_cover_the_range():
    assert nice_ticks(100, 245.7) == [100, 150, 200, 250]
    assert nice_ticks(0, 33.6) == [0, 10, 20, 30, 40]


def test_fonts_are_the_debian_packages_embedded_not_a_fallback(full):
    """Missing fonts would silently fall back; the Makefile's APT_RUNTIME must provide them."""
    reader = PdfReader(io.BytesIO(full.pdf))
    fonts = {
        str(font.get_object()["/BaseFont"]).split("+", 1)[-1]
        for page in reader.pages
        for font in page["/Resources"].get("/Font", {}).values()
    }
    assert any(name.startswith("Lato") for name in fonts), fonts
    assert any(name.startswith("Open-Sans") for name in fonts), fonts
