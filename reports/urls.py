from django.urls import path, register_converter

from . import views


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
    path("", views.catalogue, name="catalogue"),
    path("<reportslug:slug>-r<int:number>", views.report_detail, name="detail"),
    path("purchase/<int:number>", views.purchase, name="purchase"),
]
