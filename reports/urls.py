from django.urls import path, register_converter

from .views import catalogue, orders


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
    path("purchase/<int:number>", orders.purchase, name="purchase"),
    path(
        "purchase/complete/<str:reference>",
        orders.purchase_complete,
        name="purchase-complete",
    ),
    path(
        "purchase/complete/<str:reference>/download",
        orders.purchase_complete_download,
        name="purchase-complete-download",
    ),
    path("stripe/webhook/", orders.stripe_webhook, name="stripe-webhook"),
    path("download/<str:reference>/<str:token>", orders.download, name="download"),
    path(
        "download/<str:reference>/<str:token>/renew",
        orders.download_renew,
        name="download-renew",
    ),
]
