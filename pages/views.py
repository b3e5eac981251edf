from django.http import Http404
from django.shortcuts import render

from .selectors import page_current, page_version


def page_detail(request, *, page: str, number: int | None = None):
    """The current version of a page, or an earlier one by number (the terms an order
    accepted, linked from its receipt)."""
    version = page_current(page=page) if number is None else page_version(page=page, number=number)
    if version is None:
        raise Http404("No such page version")
    current = version if number is None else page_current(page=page)
    return render(
        request,
        "pages/page_detail.html",
        {"version": version, "is_current": current is not None and current.pk == version.pk},
    )
