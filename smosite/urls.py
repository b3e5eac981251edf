from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("enquiries.urls")),
    path("", include("reports.urls")),
]

urlpatterns += [
    path("privacy", TemplateView.as_view(template_name="privacy.html"), name="privacy"),
]
