"""What search engines and link previews read: absolute URLs from SITE_URL, descriptions,
and schema.org structured data (https://schema.org/Product, BreadcrumbList, FAQPage)."""

import json
from urllib.parse import urlencode

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from .models import Licence, Report

# The characters that could end a <script> element or open a comment, escaped as JSON
# unicode escapes, as Django's json_script does: "</script>" in a FAQ answer stays text.
JSON_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}
DESCRIPTION_CHARS = 160


def absolute_url(path: str) -> str:
    """SITE_URL + path: links that search engines and emails keep, whatever host served
    the request."""
    return settings.SITE_URL + path


def jsonld_script(data) -> SafeString:
    """`<script type="application/ld+json">` with the data serialised safely for HTML."""
    payload = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False)
    return format_html(
        '<script type="application/ld+json">{}</script>',
        SafeString(payload.translate(JSON_SCRIPT_ESCAPES)),
    )


def report_description(report: Report) -> str:
    """Staff's SEO description as written, else the summary cut to what results pages show."""
    if report.seo_description:
        return " ".join(report.seo_description.split())
    return Truncator(" ".join(report.summary.split())).chars(DESCRIPTION_CHARS)


def catalogue_url(*, category_slug: str = "", page: int = 1) -> str:
    params = {"category": category_slug, "page": page if page > 1 else ""}
    query = urlencode({name: value for name, value in params.items() if value})
    return absolute_url(reverse("reports:catalogue") + (f"?{query}" if query else ""))


def _offer(report: Report, licence: Licence, currency: str) -> dict:
    upcoming = report.status == Report.Status.UPCOMING
    target = "enquiries:pre-order-enquiry" if upcoming else "orders:purchase"
    return {
        "@type": "Offer",
        "name": f"{licence.get_kind_display()} licence",
        "description": licence.description,
        "price": f"{licence.price_in(currency):.2f}",
        "priceCurrency": currency,
        "availability": "https://schema.org/" + ("PreOrder" if upcoming else "InStock"),
        "url": absolute_url(reverse(target, args=[report.number])),
        "seller": {"@type": "Organization", "name": settings.PUBLISHER_NAME},
    }


def report_product(report: Report, licences: list[Licence], currency: str) -> dict:
    canonical = absolute_url(report.get_absolute_url())
    product = {
        "@context": "https://schema.org",
        "@type": "Product",
        "@id": canonical + "#report",
        "name": report.title,
        "description": report.summary,
        "sku": str(report.number),
        "category": report.category.name,
        "url": canonical,
        "releaseDate": report.edition_date.isoformat(),
        "brand": {"@type": "Brand", "name": settings.PUBLISHER_NAME},
    }
    if licences:
        # In the page's currency (crawlers choose none: DEFAULT_CURRENCY).
        product["offers"] = [_offer(report, licence, currency) for licence in licences]
    return product


def report_breadcrumbs(report: Report) -> dict:
    trail = [
        ("Reports", catalogue_url()),
        (report.category.name, catalogue_url(category_slug=report.category.slug)),
        (report.title, absolute_url(report.get_absolute_url())),
    ]
    return {
        "@context": "https://schema.org",
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": i, "name": name, "item": url}
            for i, (name, url) in enumerate(trail, start=1)
        ],
    }


def report_faq_page(report: Report) -> dict | None:
    faqs = list(report.faqs.all())
    if not faqs:
        return None
    return {
        "@context": "https://schema.org",
        "@type": "FAQPage",
        "mainEntity": [
            {
                "@type": "Question",
                "name": faq.question,
                "acceptedAnswer": {"@type": "Answer", "text": faq.answer},
            }
            for faq in faqs
        ],
    }


def report_structured_data(report: Report, licences: list[Licence], currency: str) -> list[dict]:
    graphs = [report_product(report, licences, currency), report_breadcrumbs(report)]
    faq_page = report_faq_page(report)
    return [*graphs, faq_page] if faq_page else graphs


def catalogue_structured_data() -> dict:
    """The site as a WebSite with its search box (https://schema.org/SearchAction)."""
    return {
        "@context": "https://schema.org",
        "@type": "WebSite",
        "name": settings.PUBLISHER_NAME,
        "url": catalogue_url(),
        "potentialAction": {
            "@type": "SearchAction",
            "target": catalogue_url() + "?q={search_term_string}",
            "query-input": "required name=search_term_string",
        },
    }
