from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class StaffConfig(AppConfig):
    """smosite/staff itself, for its management command (`two_factor_link`). No models."""

    name = "smosite.staff"
    label = "staff"
    default = False  # INSTALLED_APPS names this class; StaffAdminConfig is the admin


class StaffAdminConfig(AdminConfig):
    """django.contrib.admin with the site's own AdminSite as `admin.site`, so every
    `@admin.register` in the apps lands on it."""

    default_site = "smosite.staff.site.StaffAdminSite"
