from django.conf import settings

from common.currency import currency_for


def site(request):
    return {
        "PUBLISHER_NAME": settings.PUBLISHER_NAME,
        "SITE_URL": settings.SITE_URL,
        # The visitor's currency (common/currency.py); the page cache keeps one version per
        # currency, so a page may show prices in it.
        "VISITOR_CURRENCY": currency_for(request) if request is not None else "",
    }
