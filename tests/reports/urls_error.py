"""The site's URLs plus one view that fails, to see the 500 page."""

from django.urls import path

from smosite.urls import handler500  # noqa: F401
from smosite.urls import urlpatterns as site_urlpatterns


def broken(request):
    raise RuntimeError("a failure the visitor must not see")


urlpatterns = [path("broken", broken), *site_urlpatterns]
