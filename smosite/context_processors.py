from django.conf import settings

from common.currency import currency_for


def site(request):
    names = ("PUBLISHER_NAME", "SITE_URL", "PUBLISHER_LEGAL_NAME", "PUBLISHER_ADDRESS")
    names += ("PUBLISHER_VAT_NUMBER", "PUBLISHER_PHONE")
    return {
        **{name: getattr(settings, name) for name in names},
        # The visitor's currency (common/currency.py); the page cache keeps one version per
        # currency, so a page may show prices in it.
        "VISITOR_CURRENCY": currency_for(request) if request is not None else "",
    }
