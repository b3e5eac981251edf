from django.conf import settings


def site(request):
    return {"PUBLISHER_NAME": settings.PUBLISHER_NAME, "SITE_URL": settings.SITE_URL}
