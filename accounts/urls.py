from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("account/sign-in", views.sign_in, name="sign-in"),
    path("account/sign-in/sent", views.sign_in_sent, name="sign-in-sent"),
    path("account/sign-in/confirm", views.sign_in_confirm, name="sign-in-confirm"),
    path("account/sign-out", views.sign_out, name="sign-out"),
    path("account/reports", views.my_reports, name="my-reports"),
    path(
        "account/reports/<str:reference>/send-link",
        views.order_link_send,
        name="order-link-send",
    ),
    path("account/reports/<str:reference>/seats", views.seat_add, name="seat-add"),
    path(
        "account/reports/<str:reference>/seats/<int:seat_id>/reassign",
        views.seat_reassign,
        name="seat-reassign",
    ),
    path(
        "account/reports/<str:reference>/seats/<int:seat_id>/send-link",
        views.seat_link_send,
        name="seat-link-send",
    ),
]
