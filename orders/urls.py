from django.urls import path

from . import views

app_name = "orders"
urlpatterns = [
    path("purchase/<int:number>", views.purchase, name="purchase"),
    path("purchase/complete/<str:reference>", views.purchase_complete, name="purchase-complete"),
    path("purchase/invoice/<str:reference>", views.purchase_invoice, name="purchase-invoice"),
    path(
        "purchase/complete/<str:reference>/download",
        views.purchase_complete_download,
        name="purchase-complete-download",
    ),
    path("stripe/webhook/", views.stripe_webhook, name="stripe-webhook"),
    path("download/<str:reference>/<str:token>", views.download, name="download"),
    path("download/<str:reference>/<str:token>/renew", views.download_renew, name="download-renew"),
]
