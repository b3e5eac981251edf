from django.conf import settings


def site(request):
    names = ("PUBLISHER_NAME", "SITE_URL", "PUBLISHER_LEGAL_NAME", "PUBLISHER_ADDRESS")
    names += ("PUBLISHER_VAT_NUMBER", "PUBLISHER_PHONE")
    return {name: getattr(settings, name) for name in names}
