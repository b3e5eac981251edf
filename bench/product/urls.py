from django.http import HttpResponse
from django.urls import path

from smosite.urls import handler500
from smosite.urls import urlpatterns as site_urlpatterns

__all__ = ["handler500", "urlpatterns"]


def empty(request):
    return HttpResponse("ok")


urlpatterns = [path("bench/empty", empty), *site_urlpatterns]
