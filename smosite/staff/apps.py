from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as OTPTOTPConfig


class StaffConfig(AppConfig):
    """smosite/staff itself, for its management command (`two_factor_link`). No models."""

    name = "smosite.staff"
    label = "staff"
    default = False  # INSTALLED_APPS names this class; StaffAdminConfig is the admin


class StaffAdminConfig(AdminConfig):
    """django.contrib.admin with the site's own AdminSite as `admin.site`, so every
    `@admin.register` in the apps lands on it."""

    default_site = "smosite.staff.site.StaffAdminSite"


class TOTPConfig(OTPTOTPConfig):
    """django-otp's authenticator devices, named as staff read it in the admin (its own label
    shows as a raw "OTP_TOTP")."""

    verbose_name = "Two-factor devices"
