"""The catalogue and the report page."""

from urllib.parse import urlencode

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpResponsePermanentRedirect
from django.shortcuts import render

from common.pagecache import page_cache_public

from .. import selectors
from ..presentation import report_page_build
from ..seo import catalogue_structured_data, catalogue_url


@page_cache_public
def catalogue(request):
    query = " ".join(request.GET.get("q", "").split())[:100]
    category = request.GET.get("category", "").strip()[:120]
    reports = selectors.report_list_public(query=query, category_slug=category)
    page = Paginator(reports, settings.CATALOGUE_PAGE_SIZE).get_page(request.GET.get("page"))
    categories = list(selectors.category_list_public())
    current_category = next((c for c in categories if c.slug == category), None)
    return render(
        request,
        "reports/report_list.html",
        {
            "page": page,
            "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2),
            "page_query": urlencode({k: v for k, v in (("q", query), ("category", category)) if v}),
            "reports": page.object_list,
            "query": query,
            "category": category,
            "categories": categories,
            "current_category": current_category,
            # Category pages and later pages are pages of their own for search engines;
            # search results are not (noindex), and point to the unfiltered catalogue.
            "canonical_url": catalogue_url(
                category_slug=current_category.slug if current_category else "",
                page=1 if query else page.number,
            ),
            "noindex": bool(query) or (bool(category) and current_category is None),
            "structured_data": catalogue_structured_data(),
        },
    )


@page_cache_public
def report_detail(request, slug, number):
    report = selectors.report_get_public(number=number)
    if report is None:
        raise Http404("No such report")
    if slug != report.slug:
        return _redirect_keeping_query(request, report.get_absolute_url())
    return render(request, "reports/report_detail.html", {"page": report_page_build(report=report)})


def _redirect_keeping_query(request, path: str):
    """301 to the canonical URL with the query string intact: campaign links (utm_*) that
    carry an old slug must still be attributed."""
    query = request.META.get("QUERY_STRING", "")
    return HttpResponsePermanentRedirect(f"{path}?{query}" if query else path)
