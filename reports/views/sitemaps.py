"""/sitemap.xml (a sitemap, or an index when the catalogue outgrows one file) and its files."""

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from .. import sitemaps


def _xml(body: str) -> HttpResponse:
    return HttpResponse(body, content_type="application/xml; charset=utf-8")


@require_GET
def sitemap(request):
    if sitemaps.sitemap_is_index():
        return _xml(sitemaps.sitemap_index_xml())
    return _xml(sitemaps.sitemap_single_xml())


@require_GET
def sitemap_pages(request):
    return _xml(sitemaps.sitemap_pages_xml())


@require_GET
def sitemap_reports(request, part: int):
    body = sitemaps.sitemap_reports_xml(part=part) if part >= 1 else None
    if body is None:
        raise Http404("No such sitemap file.")
    return _xml(body)
