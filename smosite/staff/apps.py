from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    """django.contrib.admin with the site's own AdminSite as `admin.site`, so every
    `@admin.register` in the apps lands on it."""

    default_site = "smosite.staff.site.StaffAdminSite"
