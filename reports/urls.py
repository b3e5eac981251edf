from django.urls import path, register_converter

from .views import catalogue


class SlugWithoutTrailingR:
    """A slug in "/<slug>-r<number>": the last "-r<digits>" belongs to the number."""

    regex = r"[-a-z0-9]+?"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(SlugWithoutTrailingR, "reportslug")

app_name = "reports"
urlpatterns = [
    path("", catalogue.catalogue, name="catalogue"),
    path("<reportslug:slug>-r<int:number>", catalogue.report_detail, name="detail"),
]
