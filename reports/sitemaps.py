"""/sitemap.xml: the catalogue and every published or upcoming report, with absolute URLs
built from SITE_URL (not from the Host header of whoever asked)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from .models import Report
from .selectors import PUBLIC_STATUSES


class SiteUrlSitemap(Sitemap):
    def get_protocol(self, protocol=None):
        return urlsplit(settings.SITE_URL).scheme

    def get_domain(self, site=None):
        return urlsplit(settings.SITE_URL).netloc


class CatalogueSitemap(SiteUrlSitemap):
    changefreq = "daily"
    priority = 0.8

    def items(self):
        return ["reports:catalogue"]

    def location(self, item):
        return reverse(item)


class ReportSitemap(SiteUrlSitemap):
    changefreq = "weekly"
    priority = 1.0

    def items(self):
        return Report.objects.filter(status__in=PUBLIC_STATUSES).order_by("number")

    def lastmod(self, report):
        return report.updated_at


SITEMAPS = {"catalogue": CatalogueSitemap, "reports": ReportSitemap}
