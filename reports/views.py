from django.http import Http404
from django.shortcuts import redirect, render

from . import selectors
from .views_orders import purchase  # noqa: F401 - the purchase page lives with the order views


def catalogue(request):
    query = request.GET.get("q", "").strip()[:100]
    category = request.GET.get("category", "").strip()[:120]
    reports = selectors.report_list_public(query=query, category_slug=category)
    return render(
        request,
        "reports/report_list.html",
        {"reports": reports, "query": query, "category": category},
    )


def report_detail(request, slug, number):
    report = selectors.report_get_public(number=number)
    if report is None:
        raise Http404("No such report")
    if slug != report.slug:
        return redirect(report, permanent=True)
    return render(request, "reports/report_detail.html", {"report": report})
