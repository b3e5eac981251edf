"""Leads to call (the call list, sorted by score, with the reasons) and the sales
dashboard, in admin. Sales see both (enquiries/services/sales_group.py names the
permissions); they change a lead's owner and due date and log calls, nothing else."""

import csv
import hashlib
from functools import partial

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.html import format_html, format_html_join

from common.spreadsheets import csv_safe
from orders.models import Order

from . import charts
from .forms import DashboardRangeForm, LeadCallForm
from .models import Lead, LeadCall
from .selectors import dashboard as figures
from .services.calls import lead_call_log


class LeadCallInline(admin.TabularInline):
    model = LeadCall
    extra = 0
    fields = ["created_at", "author", "outcome", "note"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # logged through the form above the inline (lead_call_log)

    def has_change_permission(self, request, obj=None):
        return False


def leads_to_call(queryset):
    """The list: at or above LEAD_CALL_MIN_SCORE, not erased, and nobody who bought (a paid
    order takes a lead off at once, before the rescore records it)."""
    bought = Order.objects.filter(contact=OuterRef("contact"), paid_at__isnull=False)
    return queryset.filter(
        score__gte=settings.LEAD_CALL_MIN_SCORE,
        bought_at__isnull=True,
        contact__erased_at__isnull=True,
    ).exclude(Exists(bought))


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    change_list_template = "admin/sales/lead/change_list.html"
    change_form_template = "admin/sales/lead/change_form.html"
    # Five dense columns that fit beside the filters at 1280 px (issue 26).
    list_display = ["contact_link", "score", "why", "owner_column", "last_call"]
    list_display_links = None
    list_filter = ["owner", "last_outcome", "mx_flagged"]
    search_fields = ["contact__email", "contact__name", "contact__company"]
    list_select_related = ["contact", "owner"]
    ordering = ["-score", "due_at", "pk"]
    fields = [
        "contact",
        "score",
        "why",
        "mx_flagged",
        "owner",
        "due_at",
        "last_outcome",
        "last_called_at",
        "listed_at",
        "scored_at",
    ]
    readonly_fields = [
        "contact",
        "score",
        "why",
        "mx_flagged",
        "last_outcome",
        "last_called_at",
        "listed_at",
        "scored_at",
    ]
    inlines = [LeadCallInline]

    def get_queryset(self, request):
        return leads_to_call(super().get_queryset(request))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="lead", ordering="contact__name")
    def contact_link(self, obj):
        url = reverse("admin:sales_lead_change", args=[obj.pk])
        return format_html(
            '<a href="{}">{}</a> · {}<div class="list-sub list-email">{}{}</div>',
            url,
            obj.contact.name,
            obj.contact.company or "no company",
            obj.contact.email,
            " · no mail server (no MX record)" if obj.mx_flagged else "",
        )

    @admin.display(description="owner · call due", ordering="due_at")
    def owner_column(self, obj):
        owner = (obj.owner.get_full_name() or obj.owner.get_username()) if obj.owner else "nobody"
        due = f"due {timezone.localtime(obj.due_at):%Y-%m-%d}" if obj.due_at else ""
        return format_html('{}<div class="list-sub list-nowrap">{}</div>', owner, due)

    @admin.display(description="last call", ordering="last_called_at")
    def last_call(self, obj):
        if obj.last_called_at is None:
            return "—"
        return format_html(
            '{}<div class="list-sub list-nowrap">{}</div>',
            obj.get_last_outcome_display(),
            f"{timezone.localtime(obj.last_called_at):%Y-%m-%d %H:%M}",
        )

    @admin.display(description="why")
    def why(self, obj):
        return format_html_join(
            "", "<div>{} ({})</div>", ((r["text"], f"{r['points']:+d}") for r in obj.reasons)
        )

    # --- Logging a call and the dashboard --------------------------------------------------

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(view)

        return [
            path("dashboard/", wrap(self.dashboard_view), name="sales_lead_dashboard"),
            path("<int:pk>/call/", wrap(self.call_view), name="sales_lead_call"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "call_form": self._call_form()}
        return super().change_view(request, object_id, form_url, extra_context)

    @staticmethod
    def _call_form(data=None) -> LeadCallForm:
        return LeadCallForm(data, choices=Lead.Outcome.choices)

    def call_view(self, request, pk):
        lead = get_object_or_404(self.get_queryset(request), pk=pk)
        if request.method != "POST" or not request.user.has_perm("sales.add_leadcall"):
            raise PermissionDenied
        form = self._call_form(request.POST)
        if form.is_valid():
            lead_call_log(lead=lead, author=request.user, **form.cleaned_data)
            self.message_user(request, "The call is logged.")
        else:
            self.message_user(request, "Choose the call's outcome.", messages.ERROR)
        return redirect("admin:sales_lead_change", lead.pk)

    def dashboard_view(self, request):
        if not request.user.has_perm("sales.view_dashboard"):
            raise PermissionDenied
        form = DashboardRangeForm(request.GET or DashboardRangeForm.defaults())
        data = form.cleaned_data if form.is_valid() else DashboardRangeForm.defaults()
        span = figures.Range.of_days(data["since"], data["until"])
        if request.GET.get("csv"):
            return _csv_response(request.GET["csv"], span, data)
        if request.GET.get("chart"):
            return _chart_response(request, request.GET["chart"], span)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Sales dashboard",
            "form": form,
            "query": f"since={data['since']:%Y-%m-%d}&until={data['until']:%Y-%m-%d}",
            "sections": _sections(figures.dashboard(span), top=settings.SALES_DASHBOARD_TOP_ROWS),
        }
        return TemplateResponse(request, "admin/sales/dashboard.html", context)


def _sections(found: dict, *, top: int | None) -> list[dict]:
    """What the template shows: for each figure, its charts (name, and how to draw it: the
    page links each by name, `_chart_response` draws the one asked for), a table (head,
    rows: the `top` ones of long tables, all when None) and its CSV name."""
    cur = found["currencies"]
    sections = [_total_section(found["total"], cur)]
    for name, title in figures.DIMENSIONS.items():
        rows = found["tables"][name]
        shown = rows if name == "week" or top is None else rows[:top]
        sections.append(
            {
                "name": name,
                "title": title,
                "charts": _dimension_charts(title, shown, cur, name == "week"),
                "head": _dimension_head(cur),
                "rows": [_dimension_cells(row, cur) for row in shown],
                "more": len(rows) - len(shown),
            }
        )
    sections += [
        _funnel_section(found["funnel"]),
        _time_section(found["time_to_buy"]),
        _promotion_section(found["promotions"]),
    ]
    for section in sections:
        section["charts"] = [
            (f"{section['name']}-{n}", draw) for n, draw in enumerate(section["charts"])
        ]
    return sections


def _dimension_charts(title, rows, cur, over_time) -> list:
    drawn = [partial(charts.counts_chart, title, rows, over_time=over_time)]
    if cur:
        revenue_title = f"Revenue {title[0].lower()}{title[1:]}"
        drawn.append(partial(charts.revenue_chart, revenue_title, rows, cur, over_time=over_time))
    return drawn


def _dimension_head(cur):
    return ["", "Leads", "Samples", "Enquiries", "Orders", *(f"Revenue {c}" for c in cur)]


def _dimension_cells(row, cur):
    return [
        row.label,
        row.leads,
        row.samples,
        row.enquiries,
        row.orders,
        *figures.revenue_cells(row, cur),
    ]


def _total_section(total, cur) -> dict:
    return {
        "name": "total",
        "title": "Totals",
        "charts": [],
        "head": _dimension_head(cur),
        "rows": [_dimension_cells(total, cur)],
    }


def _rate(value):
    return "—" if value is None else f"{value:.1f} %"


def _funnel_section(funnel) -> dict:
    return {
        "name": "funnel",
        "title": "Funnel: sample → enquiry → order",
        "charts": [partial(charts.funnel_chart, funnel)],
        "head": ["Step", "Contacts", "Of the step before", "Of those who sampled"],
        "rows": [[step, n, _rate(prev), _rate(first)] for step, n, prev, first in funnel.steps],
    }


def _time_section(found) -> dict:
    def days(value):
        return "—" if value is None else f"{value:.1f}"

    return {
        "name": "time_to_buy",
        "title": "Days from a contact's first sample to their first order",
        "charts": [partial(charts.time_to_buy_chart, found)] if found.buyers else [],
        "head": ["Buyers", "Median days", "p90 days"],
        "rows": [[found.buyers, days(found.median_days), days(found.p90_days)]],
    }


def _promotion_section(rows) -> dict:
    cur = sorted({c for row in rows for c in row.revenue})
    return {
        "name": "promotions",
        "title": "Revenue per promotion code",
        "charts": (
            [partial(charts.revenue_chart, "Revenue per promotion code", rows, cur)] if rows else []
        ),
        "head": ["Code", "Orders", *(f"Revenue {c}" for c in cur), *(f"Discount {c}" for c in cur)],
        "rows": [
            [
                row.code,
                row.orders,
                *figures.revenue_cells(row, cur),
                *(f"{row.discount[c]:,.2f}" if c in row.discount else "" for c in cur),
            ]
            for row in rows
        ],
    }


CSV_SECTIONS = {"total", *figures.DIMENSIONS, "funnel", "time_to_buy", "promotions"}


def _csv_response(name: str, span, data) -> HttpResponse:
    """Every row of one table (not only the top ones on the page), as CSV."""
    if name not in CSV_SECTIONS:
        raise PermissionDenied
    found = figures.dashboard(span)
    section = next(s for s in _sections(found, top=None) if s["name"] == name)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"sales-{name}-{data['since']:%Y%m%d}-{data['until']:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow([section["head"][0] or name, *section["head"][1:]])
    for row in section["rows"]:
        writer.writerow([csv_safe(str(cell)) for cell in row])
    return response


def _chart_response(request, name: str, span) -> HttpResponse:
    """One chart of the page (`?chart=<section>-<n>` beside the page's range) as SVG, drawn
    from the same kept figures; its ETag is a digest of the drawing, so a browser asking
    again for unchanged figures gets a 304."""
    found = figures.dashboard(span)
    sections = _sections(found, top=settings.SALES_DASHBOARD_TOP_ROWS)
    draw = next((d for s in sections for n, d in s["charts"] if n == name), None)
    if draw is None:
        raise Http404("No such chart.")
    svg = draw()
    etag = f'"{hashlib.sha256(svg.encode()).hexdigest()[:32]}"'
    response = get_conditional_response(request, etag=etag)
    if response is None:
        response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    # The drawing needs its inline <style> and nothing else (opened on its own, it runs no
    # script and loads nothing).
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response
