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
— reserved, with the document information's and the XMP metadata's, as the last numbers —
and writes it; the template then packs every object that is not a stream into compressed
object streams, as WeasyPrint does (a tagged base has thousands of small structure elements:
written one by one, as pypdf writes them, a copy was 3.7 times its base). Those bytes are the
prefix of every copy. A copy is that prefix, then the stamp's objects (the Form XObject and
the fonts it uses, renumbered after the template's), its document information and metadata,
and a cross-reference stream for the whole file: one complete PDF with one trailer, not an
incremental update (whose first part would be the unstamped base, complete with its own
trailer). Cloning and writing the whole base per copy instead cost as much as rendering the
stamp (the profile in docs/benchmarks.md).

Bases are tagged PDFs (PDF/UA-1, reports/pdf/render.py). A copy keeps that: the structure
tree, /Lang, /MarkInfo and the outline are the base's objects, unchanged; the stamp is drawn
inside an /Artifact marked-content sequence (a watermark, not text a screen reader should read
out on every page); and the XMP metadata, like the document information, is written per copy
with the copy's creation date (the moment it was made, not the edition date the base
carries), subject and keywords, so the two never disagree."""

import hashlib
import io
import re
import struct
import threading
import time
import xml.etree.ElementTree as ET
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
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
    StreamObject,
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
# After the page's own content: the stamp, marked as a watermark artifact (PDF/UA: content
# outside the structure tree must be an artifact; ISO 14289-1 7.1, ISO 32000-1 14.8.2.2).
_STAMP_DRAW = (
    "Q\n/Artifact <</Type /Pagination /Subtype /Watermark>> BDC\nq /SmoStamp{i} Do Q\nEMC\n"
)
_OBJECTS_PER_STREAM = 200


@dataclass(frozen=True)
class _Template:
    prefix: bytes  # the file up to the first reserved object
    # Where objects 1…n are: (1, offset) in the prefix, (2, stream, index) in an object
    # stream, (0,) a free number; the reserved numbers are written per copy.
    entries: tuple[tuple[int, ...], ...]
    sizes: tuple[tuple[float, float], ...]  # page sizes; the stamp of sizes[i] is forms[i]
    forms: tuple[int, ...]  # reserved object numbers of the stamps' Form XObjects
    info: int  # reserved object number of the document information
    info_items: tuple[tuple[str, PdfObject], ...]  # the base's document information
    metadata: int | None  # reserved object number of the XMP stream, if the base has one
    xmp: bytes  # the base's XMP packet
    root: int
    file_id: bytes
    page_count: int

    @property
    def next_number(self) -> int:
        return len(self.entries) + 1


def _template(base: bytes) -> _Template:
    reader = PdfReader(io.BytesIO(base))
    writer = PdfWriter(clone_from=reader)
    info_items = tuple(dict.items(writer._info or DictionaryObject()))
    writer._info = None  # the copy's own information is written per copy, at `info`
    before = _stream(writer, b"q\n")  # isolates the page's graphics state from the stamp
    sizes: list[tuple[float, float]] = []
    for page in writer.pages:
        size = (float(page.mediabox.width), float(page.mediabox.height))
        if size not in sizes:  # one stamp per page size, usually just one
            sizes.append(size)
    afters = [_stream(writer, _STAMP_DRAW.format(i=i).encode()) for i in range(len(sizes))]
    forms = [writer._add_object(NullObject()) for _ in sizes]  # reserved: the last numbers
    info = writer._add_object(NullObject())
    root = writer.root_object
    xmp, metadata = b"", None
    if "/Metadata" in root:
        xmp = root["/Metadata"].get_object().get_data()
        metadata = writer._add_object(NullObject())
        root[NameObject("/Metadata")] = metadata
    for page in writer.pages:
        i = sizes.index((float(page.mediabox.width), float(page.mediabox.height)))
        _draw_form(page, f"/SmoStamp{i}", forms[i], before, afters[i])
    file_id = writer._ID[0] if writer._ID else ByteStringObject(hashlib.md5(base).digest())  # noqa: S324 - an identifier, not a secret
    out = io.BytesIO()
    writer.write(out)
    pdf = out.getvalue()
    offsets = _xref_offsets(pdf)
    reserved = [f.idnum for f in forms] + [info.idnum] + ([metadata.idnum] if metadata else [])
    assert reserved == list(range(reserved[0], len(offsets) + 1))
    streams = {n for n, o in enumerate(writer._objects, start=1) if isinstance(o, StreamObject)}
    prefix, entries, stream_entries = _packed(
        pdf, offsets[: reserved[0] - 1], streams, reader.pdf_header, len(offsets) + 1
    )
    return _Template(
        prefix=prefix,
        entries=tuple(entries + [(0,)] * len(reserved) + stream_entries),
        sizes=tuple(sizes),
        forms=tuple(f.idnum for f in forms),
        info=info.idnum,
        info_items=info_items,
        metadata=metadata.idnum if metadata else None,
        xmp=xmp,
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


def _packed(
    pdf: bytes, offsets: list[int], streams: set[int], header: str, first_stream: int
) -> tuple[bytes, list[tuple[int, ...]], list[tuple[int, ...]]]:
    """pypdf's output (objects 1…len(offsets)) rewritten with every object that is not a
    stream in compressed object streams (ISO 32000-1 7.5.7), numbered from `first_stream`.
    Returns the bytes, the objects' entries and the object streams' entries."""
    out = io.BytesIO()
    version = max(header[5:], "1.5")  # object and cross-reference streams: PDF 1.5
    out.write(f"%PDF-{version}\n%".encode() + bytes([0xE2, 0xE3, 0xCF, 0xD3]) + b"\n")
    entries: list[tuple[int, ...]] = []
    packed: list[tuple[int, bytes]] = []
    for number, body in enumerate(_object_bodies(pdf, offsets), start=1):
        if body is None:
            entries.append((0,))
        elif number in streams:
            entries.append((1, out.tell()))
            out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
        else:
            entries.append((2, first_stream + len(packed) // _OBJECTS_PER_STREAM, 0))
            packed.append((number, body))
    stream_entries = []
    for index in range(0, len(packed), _OBJECTS_PER_STREAM):
        stream_entries.append((1, out.tell()))
        out.write(_object_stream(first_stream + len(stream_entries) - 1, packed, index, entries))
    return out.getvalue(), entries, stream_entries


def _object_stream(number: int, packed: list, start: int, entries: list) -> bytes:
    chunk = packed[start : start + _OBJECTS_PER_STREAM]
    pairs, data = [], io.BytesIO()
    for index, (object_number, body) in enumerate(chunk):
        pairs.append(f"{object_number} {data.tell()}")
        data.write(body + b"\n")
        entries[object_number - 1] = (2, number, index)
    head = " ".join(pairs).encode() + b"\n"
    content = zlib.compress(head + data.getvalue())
    return (
        b"%d 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\n"
        b"stream\n%s\nendstream\nendobj\n" % (number, len(chunk), len(head), len(content), content)
    )


def _object_bodies(pdf: bytes, offsets: list[int]) -> list[bytes | None]:
    """Each object's bytes between `n 0 obj` and `endobj` (None: a free number). pypdf
    writes the objects in order, then the cross-reference table."""
    ends = sorted(o for o in offsets if o >= 0)[1:] + [int(_XREF.search(pdf[-64:])[1])]
    end_of = dict(zip(sorted(o for o in offsets if o >= 0), ends, strict=True))
    bodies = []
    for number, offset in enumerate(offsets, start=1):
        if offset < 0:
            bodies.append(None)
            continue
        raw = pdf[offset : end_of[offset]]
        head = b"%d 0 obj\n" % number
        assert raw.startswith(head) and raw.endswith(b"\nendobj\n"), number
        bodies.append(raw[len(head) : -len(b"\nendobj\n")])
    return bodies


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


# --- The copy's own metadata ---------------------------------------------------------------

_XMP_NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "pdfuaid": "http://www.aiim.org/pdfua/ns/id/",
}
_XPACKET = re.compile(rb"(<\?xpacket begin[^>]*\?>)(.*)(<\?xpacket end[^>]*\?>)", re.S)


def _pdf_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("D:%Y%m%d%H%M%SZ")


def _xmp_copy(xmp: bytes, *, created: datetime, info: dict[str, str]) -> bytes:
    """The base's XMP packet with the copy's dates, subject and keywords (the values of its
    document information). The packet is our own render's, never a visitor's file."""
    match = _XPACKET.search(xmp)
    if match is None:
        return xmp
    for prefix, uri in _XMP_NS.items():
        ET.register_namespace(prefix, uri)
    meta = ET.fromstring(match[2].strip())  # noqa: S314 - WeasyPrint's output, not untrusted XML
    rdf = meta.find("rdf:RDF", _XMP_NS)
    date = created.astimezone(UTC).isoformat(timespec="seconds")
    values = {"xmp:CreateDate": date, "xmp:ModifyDate": date, "xmp:MetadataDate": date}
    if "/Keywords" in info:
        values["pdf:Keywords"] = info["/Keywords"]
    for name, value in values.items():
        _xmp_remove(rdf, name)
        _xmp_description(rdf, name).text = value
    if "/Subject" in info:
        _xmp_remove(rdf, "dc:description")
        alt = ET.SubElement(_xmp_description(rdf, "dc:description"), _qname("rdf:Alt"))
        item = ET.SubElement(alt, _qname("rdf:li"), {_XML_LANG: "x-default"})
        item.text = info["/Subject"]
    packet = ET.tostring(meta, encoding="unicode").encode()
    return match[1] + b"\n" + packet + b"\n" + match[3]


_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _qname(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{_XMP_NS[prefix]}}}{local}"


def _xmp_remove(rdf: ET.Element, name: str) -> None:
    for description in rdf.findall("rdf:Description", _XMP_NS):
        for element in description.findall(name, _XMP_NS):
            description.remove(element)


def _xmp_description(rdf: ET.Element, name: str) -> ET.Element:
    """A new `<rdf:Description>` holding the property `name`; returns the property."""
    description = ET.SubElement(rdf, _qname("rdf:Description"), {_qname("rdf:about"): ""})
    return ET.SubElement(description, _qname(name))


def _xmp_stream(xmp: bytes) -> PdfObject:
    stream = DecodedStreamObject()
    stream.set_data(xmp)  # uncompressed, as PDF/A asks and as tools that search for it expect
    stream.update(
        {NameObject("/Type"): NameObject("/Metadata"), NameObject("/Subtype"): NameObject("/XML")}
    )
    return stream


def _copy(
    template: _Template, forms: list[PdfObject], metadata: dict[str, str], created: datetime
) -> bytes:
    numbering = _Numbering(template.next_number)
    objects = [
        (number, numbering.relabel(form))
        for number, form in zip(template.forms, forms, strict=True)
    ]
    metadata = {"/CreationDate": _pdf_date(created), "/ModDate": _pdf_date(created), **metadata}
    info = DictionaryObject(template.info_items)
    info.update({NameObject(k): create_string_object(str(v)) for k, v in metadata.items()})
    objects.append((template.info, info))
    if template.metadata:
        xmp = _xmp_copy(template.xmp, created=created, info=metadata)
        objects.append((template.metadata, _xmp_stream(xmp)))
    objects += numbering.queue
    out = io.BytesIO()
    out.write(template.prefix)
    entries = list(template.entries)
    for number, obj in sorted(objects, key=lambda item: item[0]):
        offset = out.tell()
        if number <= len(entries):
            assert entries[number - 1] == (0,), number  # a reserved number
            entries[number - 1] = (1, offset)
        else:
            assert number == len(entries) + 1
            entries.append((1, offset))
        out.write(f"{number} 0 obj\n".encode())
        obj.write_to_stream(out)
        out.write(b"\nendobj\n")
    _xref_stream_write(out, entries, template)
    return out.getvalue()


def _xref_stream_write(out: io.BytesIO, entries: list[tuple[int, ...]], template) -> None:
    """The cross-reference stream (ISO 32000-1 7.5.8), itself the last object, and the
    trailer's entries in its dictionary: /W [1 4 2] is type, offset or object stream number,
    generation or index."""
    number = len(entries) + 1
    entries = [*entries, (1, out.tell())]
    free = [n for n, entry in enumerate(entries, start=1) if entry == (0,)]
    links = dict(zip([0, *free], [*free, 0], strict=True))  # the free list: 0 → first → … → 0
    rows = [struct.pack(">BIH", 0, links[0], 65535)]
    for n, entry in enumerate(entries, start=1):
        if entry == (0,):
            rows.append(struct.pack(">BIH", 0, links[n], 1))
        elif entry[0] == 1:
            rows.append(struct.pack(">BIH", 1, entry[1], 0))
        else:
            rows.append(struct.pack(">BIH", 2, entry[1], entry[2]))
    data = zlib.compress(b"".join(rows))
    copy_id = hashlib.md5(out.getbuffer()[len(template.prefix) :]).hexdigest()  # noqa: S324 - an identifier
    xref = out.tell()
    out.write(
        f"{number} 0 obj\n<< /Type /XRef /Size {number + 1} /W [1 4 2] /Filter /FlateDecode "
        f"/Length {len(data)} /Root {template.root} 0 R /Info {template.info} 0 R "
        f"/ID [<{template.file_id.hex()}> <{copy_id}>] >>\nstream\n".encode()
    )
    out.write(data + b"\nendstream\nendobj\n")
    out.write(f"startxref\n{xref}\n%%EOF\n".encode())


def pdf_stamp(
    *, base: bytes, text: str, metadata: dict[str, str], created: datetime | None = None
) -> Stamped:
    """Stamp `text` on every page of `base` and merge `metadata` into the document info. The
    copy's creation date is `created` (by default now): the day this copy was made."""
    started = time.perf_counter()
    created = created or timezone.now()
    fetcher = StaticOnlyURLFetcher()
    template = _template_for(base)
    forms = [
        _form(overlay_render(text=text, width=w, height=h, fetcher=fetcher).pages[0])
        for w, h in template.sizes
    ]
    return Stamped(
        pdf=_copy(template, forms, metadata, created),
        page_count=template.page_count,
        seconds=time.perf_counter() - started,
        fetcher=fetcher,
    )
