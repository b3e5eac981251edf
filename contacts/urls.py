from django.urls import path

from . import views

app_name = "contacts"
urlpatterns = [
    path("email/unsubscribe/<str:token>", views.unsubscribe, name="unsubscribe"),
    path("email/preferences/<str:token>", views.preferences, name="preferences"),
]
