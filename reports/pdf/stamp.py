"""Personal copies: the base render with a one-line stamp on every page. The stamp is a
one-page PDF rendered by WeasyPrint from an autoescaped template (a visitor's name is text,
never markup) through the same locked-down fetcher, then drawn on each page as one Form
XObject by two tiny content streams that every page shares (`q` before the page's own
content, `Q /SmoStamp0 Do Q` after it). The base's own objects are never rewritten, so its
page count, outline, links, named destinations and tags are kept as they are.

A worker stamps the same few bases all day, and everything in a copy but the stamp is the
same for every copy of a base. So each base is prepared once per worker process (a
`_Template`, keyed by the bytes' SHA-256, the last PDF_STAMP_BASE_CACHE_SIZE bases): pypdf
clones it, adds the shared content streams, points every page at the stamp's object number
— reserved, with the document information's, as the last numbers of the file — and writes
it. The bytes before the reserved objects are the prefix of every copy. A copy is that
prefix, then the stamp's objects (the Form XObject and the fonts it uses, renumbered after
the reserved ones), its document information, and a cross-reference table for the whole
file: one complete PDF with one trailer, not an incremental update (whose first part would
be the unstamped base, complete with its own trailer). Cloning and writing the whole base
per copy instead cost as much as rendering the stamp (the profile in docs/benchmarks.md)."""

import hashlib
import io
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from pypdf import PageObject, PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NullObject,
    PdfObject,
    create_string_object,
)
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from .fetcher import StaticOnlyURLFetcher, static_base_url


@dataclass
class Stamped:
    pdf: bytes
    page_count: int
    seconds: float
    fetcher: StaticOnlyURLFetcher


def overlay_render(*, text: str, width: float, height: float, fetcher) -> PdfReader:
    """The stamp alone, on one page of the given size. The stylesheet is parsed once per
    page size and the font configuration made once, per thread: building either per copy
    cost as much as laying out the stamp (a FontConfiguration loads fontconfig's setup)."""
    html = render_to_string("reports/pdf/stamp.html", {"text": text})
    pdf = HTML(string=html, base_url=static_base_url(), url_fetcher=fetcher).write_pdf(
        stylesheets=[_stamp_css(round(width, 3), round(height, 3))],
        font_config=_renderer().font_config,
    )
    return PdfReader(io.BytesIO(pdf))


class _Renderer(threading.local):
    def __init__(self):
        self.font_config = FontConfiguration()
        self.stylesheets: dict[tuple[float, float], CSS] = {}


_renderer_local: _Renderer | None = None


def _renderer() -> _Renderer:
    global _renderer_local
    if _renderer_local is None:
        _renderer_local = _Renderer()
    return _renderer_local


def _stamp_css(width: float, height: float) -> CSS:
    """reports/pdf/stamp.css for this page size (a base has one or two sizes)."""
    renderer = _renderer()
    css = renderer.stylesheets.get((width, height))
    if css is None:
        source = render_to_string("reports/pdf/stamp.css", {"width": width, "height": height})
        css = CSS(string=source, font_config=renderer.font_config)
        renderer.stylesheets[(width, height)] = css
    return css


def _stream(writer: PdfWriter, data: bytes) -> IndirectObject:
    stream = DecodedStreamObject()
    stream.set_data(data)
    # pypdf has no public call to add a new indirect object; streams must be indirect.
    return writer._add_object(stream.flate_encode())


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


# --- The template: a base prepared once ---------------------------------------------------

_XREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")


@dataclass(frozen=True)
class _Template:
    prefix: bytes  # the file up to the first reserved object
    offsets: tuple[int, ...]  # byte offset of objects 1…n in the prefix; -1: a free number
    sizes: tuple[tuple[float, float], ...]  # page sizes; the stamp of sizes[i] is forms[i]
    forms: tuple[int, ...]  # reserved object numbers of the stamps' Form XObjects
    info: int  # reserved object number of the document information
    info_items: tuple[tuple[str, PdfObject], ...]  # the base's document information
    root: int
    file_id: bytes
    page_count: int

    @property
    def next_number(self) -> int:
        return self.info + 1


def _template(base: bytes) -> _Template:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(base)))
    info_items = tuple(dict.items(writer._info or DictionaryObject()))
    writer._info = None  # the copy's own information is written per copy, at `info`
    before = _stream(writer, b"q\n")  # isolates the page's graphics state from the stamp
    sizes: list[tuple[float, float]] = []
    for page in writer.pages:
        size = (float(page.mediabox.width), float(page.mediabox.height))
        if size not in sizes:  # one stamp per page size, usually just one
            sizes.append(size)
    afters = [_stream(writer, f"Q\nq /SmoStamp{i} Do Q\n".encode()) for i in range(len(sizes))]
    forms = [writer._add_object(NullObject()) for _ in sizes]  # reserved: the last numbers
    info = writer._add_object(NullObject())
    for page in writer.pages:
        i = sizes.index((float(page.mediabox.width), float(page.mediabox.height)))
        _draw_form(page, f"/SmoStamp{i}", forms[i], before, afters[i])
    file_id = writer._ID[0] if writer._ID else ByteStringObject(hashlib.md5(base).digest())  # noqa: S324 - an identifier, not a secret
    out = io.BytesIO()
    writer.write(out)
    pdf = out.getvalue()
    offsets = _xref_offsets(pdf)
    first = forms[0].idnum
    assert [f.idnum for f in forms] + [info.idnum] == list(range(first, len(offsets) + 1))
    return _Template(
        prefix=pdf[: offsets[first - 1]],
        offsets=tuple(offsets[: first - 1]),
        sizes=tuple(sizes),
        forms=tuple(f.idnum for f in forms),
        info=info.idnum,
        info_items=info_items,
        root=writer.root_object.indirect_reference.idnum,
        file_id=bytes(file_id.original_bytes if hasattr(file_id, "original_bytes") else file_id),
        page_count=len(writer.pages),
    )


def _xref_offsets(pdf: bytes) -> list[int]:
    """Objects 1…n's offsets from the classic cross-reference table pypdf writes
    (free entries: -1)."""
    start = int(_XREF.search(pdf[-64:])[1])
    lines = pdf[start:].split(b"\n")
    assert lines[0] == b"xref", "a classic cross-reference table"
    count = int(lines[1].split()[1])
    entries = [line.split() for line in lines[2 : 2 + count]]
    return [int(e[0]) if e[2] == b"n" else -1 for e in entries[1:]]


_templates: OrderedDict[str, _Template] = OrderedDict()
_templates_lock = threading.Lock()


def _template_for(base: bytes) -> _Template:
    """The base's template, prepared once per worker process (a new render is a new key,
    never a stale hit). The lock makes a threaded server prepare each base once."""
    key = hashlib.sha256(base).hexdigest()
    with _templates_lock:
        template = _templates.pop(key, None) or _template(base)
        _templates[key] = template
        while len(_templates) > settings.PDF_STAMP_BASE_CACHE_SIZE:
            _templates.popitem(last=False)
        return template


# --- A copy -------------------------------------------------------------------------------


class _Numbering:
    """The stamp's own objects, renumbered after the template's reserved numbers: walking
    the overlay's objects from the form, each indirect object it reaches gets the next
    number and is queued for writing once."""

    def __init__(self, first: int):
        self.next = first
        self.numbers: dict[int, int] = {}
        self.queue: list[tuple[int, PdfObject]] = []
        self.done: set[int] = set()

    def relabel(self, obj):
        if isinstance(obj, IndirectObject):
            number = self.numbers.get(obj.idnum)
            if number is None:
                number = self.numbers[obj.idnum] = self.next
                self.next += 1
                self.queue.append((number, self.relabel(obj.get_object())))
            return IndirectObject(number, 0, None)
        if id(obj) in self.done:
            return obj
        if isinstance(obj, DictionaryObject):  # streams too
            self.done.add(id(obj))
            for key, value in list(dict.items(obj)):
                dict.__setitem__(obj, key, self.relabel(value))
        elif isinstance(obj, ArrayObject):
            self.done.add(id(obj))
            for i, value in enumerate(list.__iter__(obj)):
                list.__setitem__(obj, i, self.relabel(value))
        return obj


def _form(overlay: PageObject) -> PdfObject:
    """The overlay page as a Form XObject (its resources still the overlay's objects)."""
    box = overlay.mediabox
    form = DecodedStreamObject()
    form.set_data(overlay.get_contents().get_data())
    form.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Form"),
            NameObject("/BBox"): ArrayObject(
                FloatObject(v) for v in (box.left, box.bottom, box.right, box.top)
            ),
            NameObject("/Resources"): dict.__getitem__(overlay, "/Resources"),
        }
    )
    return form.flate_encode()


def _copy(template: _Template, forms: list[PdfObject], metadata: dict[str, str]) -> bytes:
    numbering = _Numbering(template.next_number)
    objects = [
        (number, numbering.relabel(form))
        for number, form in zip(template.forms, forms, strict=True)
    ]
    info = DictionaryObject(template.info_items)
    info.update({NameObject(k): create_string_object(str(v)) for k, v in metadata.items()})
    objects.append((template.info, info))
    objects += numbering.queue
    out = io.BytesIO()
    out.write(template.prefix)
    offsets = list(template.offsets)
    for number, obj in sorted(objects, key=lambda item: item[0]):
        assert number == len(offsets) + 1
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode())
        obj.write_to_stream(out)
        out.write(b"\nendobj\n")
    xref = out.tell()
    free = [n for n, offset in enumerate(offsets, start=1) if offset < 0]
    links = dict(zip([0, *free], [*free, 0], strict=True))  # the free list: 0 → first free → … → 0
    out.write(f"xref\n0 {len(offsets) + 1}\n{links[0]:010} 65535 f \n".encode())
    for number, offset in enumerate(offsets, start=1):
        line = f"{offset:010} 00000 n \n" if offset >= 0 else f"{links[number]:010} 00001 f \n"
        out.write(line.encode())
    copy_id = hashlib.md5(out.getbuffer()[len(template.prefix) :]).hexdigest()  # noqa: S324 - an identifier
    out.write(
        f"trailer\n<< /Size {len(offsets) + 1} /Root {template.root} 0 R "
        f"/Info {template.info} 0 R /ID [<{template.file_id.hex()}> <{copy_id}>] >>\n"
        f"startxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def pdf_stamp(*, base: bytes, text: str, metadata: dict[str, str]) -> Stamped:
    """Stamp `text` on every page of `base` and merge `metadata` into the document info."""
    started = time.perf_counter()
    fetcher = StaticOnlyURLFetcher()
    template = _template_for(base)
    forms = [
        _form(overlay_render(text=text, width=w, height=h, fetcher=fetcher).pages[0])
        for w, h in template.sizes
    ]
    return Stamped(
        pdf=_copy(template, forms, metadata),
        page_count=template.page_count,
        seconds=time.perf_counter() - started,
        fetcher=fetcher,
    )
