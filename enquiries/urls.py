from django.urls import path

from . import views

app_name = "enquiries"
urlpatterns = [
    path("enquiry/request-sample/<int:number>", views.sample_request_create, name="request-sample"),
    path(
        "enquiry/request-sample/thank-you/<slug:token>",
        views.sample_request_thanks,
        name="sample-thanks",
    ),
    path("enquiry/sample/<slug:token>", views.sample_request_status, name="sample-status"),
    path("enquiry/pre-order-enquiry/<int:number>", views.enquiry_create, name="pre-order-enquiry"),
    path(
        "enquiry/pre-order-enquiry/<int:number>/thank-you",
        views.enquiry_thanks,
        name="pre-order-enquiry-thanks",
    ),
]
