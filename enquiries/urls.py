from django.urls import path

from . import views

app_name = "enquiries"
urlpatterns = [
    path("enquiry/request-sample/<int:number>", views.sample_request_create, name="request-sample"),
    path("enquiry/pre-order-enquiry/<int:number>", views.enquiry_create, name="pre-order-enquiry"),
    path(
        "enquiry/pre-order-enquiry/<int:number>/thank-you",
        views.enquiry_thanks,
        name="pre-order-enquiry-thanks",
    ),
]
