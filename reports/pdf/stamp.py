"""Personal copies: the base render with a one-line stamp on every page. The stamp is a
one-page PDF rendered by WeasyPrint from an autoescaped template (a visitor's name is text,
never markup) through the same locked-down fetcher, then placed on each page with pypdf.
Cloning the base keeps its page count, outline, links and named destinations.

The overlay becomes one Form XObject drawn by two tiny content streams that every page shares
(`q` before the page's own content, `Q /Stamp Do` after it). The base's content streams are
left as they are, still compressed, so there is nothing for `compress_content_streams()` to
do. pypdf's `merge_page` + `compress_content_streams()` instead decompresses, rewrites and
recompresses every page and copies the overlay's resources into each: slower and larger
(the comparison row in docs/benchmarks.md). A copy is written in full, not as an incremental
update, so cutting the file short can't recover an unstamped base."""

import hashlib
import io
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from pypdf import PageObject, PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
)
from weasyprint import HTML

from .fetcher import StaticOnlyURLFetcher, static_base_url


@dataclass
class Stamped:
    pdf: bytes
    page_count: int
    seconds: float
    fetcher: StaticOnlyURLFetcher


def overlay_render(*, text: str, width: float, height: float, fetcher) -> PdfReader:
    html = render_to_string(
        "reports/pdf/stamp.html",
        {"text": text, "width": round(width, 3), "height": round(height, 3)},
    )
    pdf = HTML(string=html, base_url=static_base_url(), url_fetcher=fetcher).write_pdf()
    return PdfReader(io.BytesIO(pdf))


def _stream(writer: PdfWriter, data: bytes, **entries) -> IndirectObject:
    stream = DecodedStreamObject()
    stream.set_data(data)
    stream.update({NameObject(key): value for key, value in entries.items()})
    # pypdf has no public call to add a new indirect object; streams must be indirect.
    return writer._add_object(stream.flate_encode())


def _overlay_form(writer: PdfWriter, overlay: PageObject) -> IndirectObject:
    """The overlay page as a Form XObject owned by `writer`."""
    box = overlay.mediabox
    return _stream(
        writer,
        overlay.get_contents().get_data(),
        **{
            "/Type": NameObject("/XObject"),
            "/Subtype": NameObject("/Form"),
            "/BBox": ArrayObject(
                FloatObject(v) for v in (box.left, box.bottom, box.right, box.top)
            ),
            "/Resources": overlay["/Resources"].get_object().clone(writer),
        },
    )


def _page_contents(page: PageObject) -> list:
    contents = page.get("/Contents")
    if contents is None:
        return []
    resolved = contents.get_object()
    return list(resolved) if isinstance(resolved, ArrayObject) else [contents]


def _draw_form(page: PageObject, name: str, form, before, after) -> None:
    resources = page.setdefault(NameObject("/Resources"), DictionaryObject()).get_object()
    xobjects = resources.setdefault(NameObject("/XObject"), DictionaryObject()).get_object()
    xobjects[NameObject(name)] = form
    page[NameObject("/Contents")] = ArrayObject([before, *_page_contents(page), after])


_parsed: OrderedDict[str, PdfReader] = OrderedDict()
_parsed_lock = threading.Lock()


def _clone(base: bytes) -> PdfWriter:
    """A writer holding a copy of `base`. Parsing a base is about half a copy's cost and a
    worker stamps the same few bases all day, so the parsed reader is kept per worker
    process (keyed by the bytes' SHA-256: a new render is a new key, never a stale hit; the
    last PDF_STAMP_BASE_CACHE_SIZE bases). Cloning only reads the reader; the lock is for
    threaded servers, as a reader's lazy parsing moves its stream position."""
    key = hashlib.sha256(base).hexdigest()
    with _parsed_lock:
        reader = _parsed.pop(key, None) or PdfReader(io.BytesIO(base))
        _parsed[key] = reader
        while len(_parsed) > settings.PDF_STAMP_BASE_CACHE_SIZE:
            _parsed.popitem(last=False)
        return PdfWriter(clone_from=reader)


def pdf_stamp(*, base: bytes, text: str, metadata: dict[str, str]) -> Stamped:
    """Stamp `text` on every page of `base` and merge `metadata` into the document info."""
    started = time.perf_counter()
    fetcher = StaticOnlyURLFetcher()
    writer = _clone(base)
    before = _stream(writer, b"q\n")  # isolates the page's graphics state from the stamp
    forms: dict[tuple[float, float], tuple[str, IndirectObject, IndirectObject]] = {}
    for page in writer.pages:
        size = (float(page.mediabox.width), float(page.mediabox.height))
        if size not in forms:  # one overlay per page size, usually just one
            overlay = overlay_render(text=text, width=size[0], height=size[1], fetcher=fetcher)
            name = f"/SmoStamp{len(forms)}"
            after = _stream(writer, f"Q\nq {name} Do Q\n".encode())
            forms[size] = (name, _overlay_form(writer, overlay.pages[0]), after)
        name, form, after = forms[size]
        _draw_form(page, name, form, before, after)
    writer.add_metadata(metadata)
    out = io.BytesIO()
    writer.write(out)
    return Stamped(
        pdf=out.getvalue(),
        page_count=len(writer.pages),
        seconds=time.perf_counter() - started,
        fetcher=fetcher,
    )
