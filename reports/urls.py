from django.urls import path, register_converter

from .views import alerts, catalogue


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
    path("alerts/subscribe", alerts.alert_subscribe, name="alert-subscribe"),
    path("alerts/confirm/<str:token>", alerts.alert_confirm, name="alert-confirm"),
    path("<reportslug:slug>-r<int:number>", catalogue.report_detail, name="detail"),
]
