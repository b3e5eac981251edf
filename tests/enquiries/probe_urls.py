"""The site's URLs plus a second admin site that registers reports and licences with plain
ModelAdmins. The catalogue has no admin of its own in this branch; the probe lets the tests
prove, through the admin, that the Sales group's permissions make reports and prices
read-only while superusers can edit them."""

from django.contrib import admin
from django.urls import path

from reports.models import Licence, Report
from smosite.urls import urlpatterns as site_urlpatterns

probe_site = admin.AdminSite(name="probe")
probe_site.register(Report)
probe_site.register(Licence)

urlpatterns = [path("probe-admin/", probe_site.urls), *site_urlpatterns]
