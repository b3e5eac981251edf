"""The catalogue (search, facets, pages) and the report page."""

import dataclasses
from urllib.parse import urlencode

from django.http import Http404, HttpResponsePermanentRedirect
from django.shortcuts import render

from common.currency import PARAMETER as CURRENCY_PARAMETER
from common.currency import currency_choosable, currency_for
from common.pagecache import page_cache_public
from common.text import CONTROL_CHARS
from contacts.models import UTM_FIELDS

from .. import selectors
from ..presentation import report_page_build
from ..search import SearchParams, catalogue_generation, catalogue_search, category_choices
from ..seo import catalogue_structured_data, catalogue_url

# What the catalogue reads from the query string: the search's words and facets, and the page.
CATALOGUE_PARAMETERS = ("page", *(field.name for field in dataclasses.fields(SearchParams)))


@page_cache_public(params=CATALOGUE_PARAMETERS)
def catalogue(request):
    params = SearchParams.from_query(request.GET)
    generation = catalogue_generation()
    result = catalogue_search(params, page=request.GET.get("page"), generation=generation)
    page = result.page
    # Only the catalogue, its category pages and their later pages are pages of their own
    # for search engines. Searches and the other facets (any combination of them) are not:
    # noindex, with the canonical link on the category (or the catalogue) they narrow.
    indexable = not params.q and set(params.filters()) <= {"category"}
    indexable = indexable and (not params.category or result.category is not None)
    category_slug = result.category.slug if result.category else ""
    return render(
        request,
        "reports/report_list.html",
        {
            "result": result,
            "page": page,
            "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2),
            "page_query": params.query_string(),
            "reports": page.object_list,
            "query": params.q,
            "category": params.category,
            "categories": category_choices(generation=generation),
            "current_category": result.category,
            "canonical_url": catalogue_url(
                category_slug=category_slug, page=page.number if indexable else 1
            ),
            "noindex": not indexable,
            "structured_data": catalogue_structured_data(),
        },
    )


# Reads only `currency`, a choice answered before the view (its redirect keeps the raw query).
@page_cache_public(params=(CURRENCY_PARAMETER,))
@currency_choosable
def report_detail(request, slug, number):
    report = selectors.report_get_public(number=number)
    if report is None:
        raise Http404("No such report")
    if slug != report.slug:
        return _redirect_keeping_query(request, report.get_absolute_url())
    page = report_page_build(report=report, currency=currency_for(request))
    return render(request, "reports/report_detail.html", {"page": page})


# Longer redirects are refused (Django answers 400 above 2,048 characters).
REDIRECT_QUERY_BUDGET = 1800


def _redirect_keeping_query(request, path: str):
    """301 to the canonical URL with the query string intact: campaign links (utm_*) that
    carry an old slug must still be attributed. An oversized query keeps the campaign
    parameters as attribution records them (200 characters each), or is dropped."""
    query = request.META.get("QUERY_STRING", "")
    if CONTROL_CHARS.search(query):  # only a malformed request has them unencoded
        query = request.GET.urlencode()
    if len(query) > REDIRECT_QUERY_BUDGET:
        utm = {name: request.GET[name][:200] for name in UTM_FIELDS if name in request.GET}
        query = urlencode(utm)
    if len(query) > REDIRECT_QUERY_BUDGET:
        query = ""
    return HttpResponsePermanentRedirect(f"{path}?{query}" if query else path)
