"""Tagged PDFs (PDF/UA-1): the sample, the full report and a stamped copy of each are read
back with pikepdf, as an accessibility checker reads them — the structure tree, /MarkInfo,
the language, the title shown instead of the file name, bookmarks, and alternative text on
every figure. A stamped copy keeps all of it and is dated the day it was made."""

import io
import re
from datetime import UTC, datetime

import pikepdf
import pytest

from reports.pdf.charts import bar_chart, share_chart
from reports.pdf.render import document_render
from reports.pdf.stamp import pdf_stamp
from tests.reports.pdf_support import seed_content


@pytest.fixture(scope="module")
def content(django_db_setup, django_db_blocker):
    return seed_content(django_db_blocker)


@pytest.fixture(scope="module")
def sample(content):
    return document_render(content=content, kind="sample").pdf


@pytest.fixture(scope="module")
def full(content):
    return document_render(content=content, kind="full").pdf


def _structure(pdf: pikepdf.Pdf) -> list[pikepdf.Dictionary]:
    """Every structure element, depth first."""
    found, stack = [], list(pdf.Root.StructTreeRoot.K)
    while stack:
        element = stack.pop()
        if isinstance(element, pikepdf.Dictionary) and "/S" in element:
            found.append(element)
            kids = element.get("/K")
            if isinstance(kids, pikepdf.Array):
                stack.extend(kids)
            elif isinstance(kids, pikepdf.Dictionary):
                stack.append(kids)
    return found


def _assert_tagged(data: bytes, *, title: str, figures: int) -> pikepdf.Pdf:
    pdf = pikepdf.open(io.BytesIO(data))
    root = pdf.Root
    assert "/StructTreeRoot" in root
    assert root.MarkInfo.Marked is True
    assert str(root.Lang) == "en"
    assert root.ViewerPreferences.DisplayDocTitle is True
    assert str(pdf.docinfo.Title) == title
    xmp = pdf.open_metadata()  # read only: its context manager would rewrite the info
    assert xmp["dc:title"] == title
    assert xmp["pdfuaid:part"] == "1"
    assert len(pdf.open_outline().root) >= 5
    elements = _structure(pdf)
    kinds = {str(e.S) for e in elements}
    assert {"/H1", "/H2", "/P", "/Table", "/Figure", "/Caption", "/Link"} <= kinds
    found = [e for e in elements if e.S == "/Figure"]
    assert len(found) == figures
    for figure in found:
        alt = str(figure.get("/Alt", ""))
        assert alt and alt != "Pygal", alt
    return pdf


def _figure_alts(pdf: pikepdf.Pdf) -> list[str]:
    return sorted(str(e.Alt) for e in _structure(pdf) if e.S == "/Figure")


def test_sample_is_a_tagged_pdf_ua_document_with_alt_text_on_its_chart(sample, content):
    pdf = _assert_tagged(sample, title=f"{content['title']} — Sample", figures=1)
    assert pdf.pdf_version == "1.7"
    (alt,) = _figure_alts(pdf)
    # The chart's text lists what the chart shows: every year's value.
    assert alt.startswith("Line chart: Market forecast 2025–2032 (Index, 2025 = 100).")
    assert "2025 100.0;" in alt and "2032 " in alt


def test_full_report_is_tagged_and_every_chart_has_alternative_text(full, content):
    pdf = _assert_tagged(full, title=content["title"], figures=3)
    alts = _figure_alts(pdf)
    assert any(a.startswith("Ring chart: Share of the market by region.") for a in alts)
    assert any("North America 40%" in a for a in alts)
    assert any(a.startswith("Column chart: Annual increase of the market") for a in alts)


@pytest.mark.parametrize("kind", ["sample", "full"])
def test_stamped_copy_keeps_the_tags_and_is_dated_the_day_it_was_made(kind, sample, full, content):
    base = {"sample": sample, "full": full}[kind]
    made = datetime(2026, 12, 6, 15, 4, 5, tzinfo=UTC)
    stamped = pdf_stamp(
        base=base,
        text="Prepared for Zoë Example, Pfizer Example Inc. — 6 December 2026",
        metadata={"/Subject": "Prepared for Zoë Example", "/Keywords": "report 1780960"},
        created=made,
    )
    title = content["title"] + (" — Sample" if kind == "sample" else "")
    base_pdf = pikepdf.open(io.BytesIO(base))
    copy = _assert_tagged(stamped.pdf, title=title, figures=len(_figure_alts(base_pdf)))

    assert _figure_alts(copy) == _figure_alts(base_pdf)
    assert len(_structure(copy)) == len(_structure(base_pdf))
    assert copy.pdf_version == base_pdf.pdf_version
    # The base carries its edition date; the copy, the moment it was made (info and XMP agree).
    assert str(base_pdf.docinfo.CreationDate).startswith("D:2025")
    assert str(copy.docinfo.CreationDate) == "D:20261206150405Z"
    xmp = copy.open_metadata()
    assert xmp["xmp:CreateDate"] == "2026-12-06T15:04:05+00:00"
    assert xmp["dc:description"] == "Prepared for Zoë Example"
    assert xmp["pdf:Keywords"] == "report 1780960"


def test_the_stamp_is_an_artifact_outside_the_structure_tree(full):
    """PDF/UA: content that is not in the structure tree must be marked as an artifact, or a
    screen reader reads the stamp out as if it were the page's text."""
    stamped = pdf_stamp(base=full, text="Licensed to Acme", metadata={})
    copy = pikepdf.open(io.BytesIO(stamped.pdf))
    for page in copy.pages:
        operations = [
            (str(op), [str(o) for o in operands])
            for operands, op in pikepdf.parse_content_stream(page)
        ]
        draws = [i for i, (op, operands) in enumerate(operations) if op == "Do"]
        stamp = [i for i in draws if operations[i][1][0].startswith("/SmoStamp")]
        assert len(stamp) == 1
        before = [op for op, _ in operations[: stamp[0]]]
        opened = len(before) - before[::-1].index("BDC") - 1
        assert operations[opened][1][0] == "/Artifact"
        assert "EMC" not in before[opened:]


def test_a_copy_made_without_a_date_is_dated_now(full):
    stamped = pdf_stamp(base=full, text="Licensed to Acme", metadata={})
    copy = pikepdf.open(io.BytesIO(stamped.pdf))
    created = str(copy.docinfo.CreationDate)
    assert re.fullmatch(r"D:\d{14}Z", created)
    assert created[2:10] == datetime.now(UTC).strftime("%Y%m%d")


def test_chart_alt_text_is_escaped_and_names_every_value():
    svg = bar_chart(
        bars=[("<b>Phase I</b>", 30), ("Phase II & III", 70)], title='Shares "by" phase'
    )
    assert "<title>Bar chart: Shares &quot;by&quot; phase. Phase II &amp; III 70%; " in svg
    assert "&lt;b&gt;Phase I&lt;/b&gt; 30%.</title>" in svg
    assert "<b>" not in svg
    ring = share_chart(shares=[("Europe", 60), ("Asia", 40)], title="Share by region")
    assert "<title>Ring chart: Share by region. Europe 60%; Asia 40%.</title>" in ring
