from django.contrib import admin
from django.urls import include, path

from reports.views import sitemaps

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("contacts.urls")),
    path("", include("enquiries.urls")),
    path("", include("reports.urls")),
    path("", include("orders.urls")),
    path("", include("pages.urls")),
    path("", include("accounts.urls")),
]

urlpatterns += [
    path("privacy", views.privacy, name="privacy"),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/ready", views.healthz_ready, name="healthz-ready"),
    path("robots.txt", views.robots_txt, name="robots-txt"),
    path("sitemap.xml", sitemaps.sitemap, name="sitemap"),
    path("sitemaps/pages.xml", sitemaps.sitemap_pages, name="sitemap-pages"),
    path("sitemaps/reports-<int:part>.xml", sitemaps.sitemap_reports, name="sitemap-reports"),
]

handler500 = "smosite.views.server_error"
