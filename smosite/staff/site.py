"""The admin site every model is registered on: staff sign in with a password and, for those
who set one up (everyone, with ADMIN_REQUIRE_2FA), an authenticator code; an admin action the
user may not run answers 403."""

from functools import wraps

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.options import ActionLocation
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from .forms import StaffAuthenticationForm
from .two_factor import (
    enrolment_link_after_sign_in,
    enrolment_needed,
    is_staff_member,
    two_factor_enrol_view,
    two_factor_satisfied,
    two_factor_view,
)

# The POST fields that name an action: the change list's select, and the change form's.
ACTION_FIELDS = (
    (ActionLocation.CHANGE_LIST, "action"),
    (ActionLocation.CHANGE_FORM, f"{ActionLocation.CHANGE_FORM.value}-action"),
)


class StaffAdminSite(admin.AdminSite):
    login_form = StaffAuthenticationForm
    login_template = "admin/staff_login.html"
    index_title = "Today at the desk"

    @property
    def site_header(self):
        return f"{settings.PUBLISHER_NAME} · sales desk"

    @property
    def site_title(self):
        return f"{settings.PUBLISHER_NAME} desk"

    def each_context(self, request):
        """The navigation beside a list is off: the lists get the width (their key columns
        fit at 1280 px); the index and the breadcrumbs lead everywhere."""
        context = super().each_context(request)
        match = getattr(request, "resolver_match", None)
        if match and (match.url_name or "").endswith("_changelist"):
            context["is_nav_sidebar_enabled"] = False
        return context

    def index(self, request, extra_context=None):
        from .desk import desk_counts  # the apps' models: imported once the registry is ready

        extra_context = {"desk_counts": desk_counts(request), **(extra_context or {})}
        return super().index(request, extra_context)

    def has_permission(self, request):
        return super().has_permission(request) and two_factor_satisfied(request)

    def admin_view(self, view, cacheable=False):
        if view == self.logout:
            # Anyone signed in may sign out, also before their second factor.
            return never_cache(csrf_protect(view))
        model_admin = getattr(view, "__self__", None)
        if isinstance(model_admin, admin.ModelAdmin):
            view = _refusing_forbidden_actions(model_admin, view)
        return _enrolment_first(self, super().admin_view(view, cacheable))

    def login(self, request, extra_context=None):
        if request.method == "GET" and enrolment_needed(request):
            return redirect("admin:two-factor")
        response = super().login(request, extra_context)
        signed_in = request.method == "POST" and response.status_code == 302
        if signed_in and enrolment_needed(request):
            enrolment_link_after_sign_in(request)
        return response

    def get_urls(self):
        return [
            path("two-factor/", self._staff_only(two_factor_view), name="two-factor"),
            path(
                "two-factor/enrol/<str:token>/",
                self._staff_only(two_factor_enrol_view),
                name="two-factor-enrol",
            ),
            *super().get_urls(),
        ]

    def _staff_only(self, view):
        """For pages a signed-in staff member reaches before their second factor."""

        @never_cache
        @csrf_protect
        def inner(request, **kwargs):
            if not is_staff_member(request.user):
                return redirect_to_login(request.get_full_path(), reverse("admin:login"))
            return view(request, self, **kwargs)

        return inner


def _enrolment_first(site, view):
    """Staff who must use a second factor and have none yet go to the enrolment page first."""

    @wraps(view)
    def inner(request, *args, **kwargs):
        if enrolment_needed(request):
            return redirect("admin:two-factor")
        return view(request, *args, **kwargs)

    return inner


def _refusing_forbidden_actions(model_admin: admin.ModelAdmin, view):
    """Django hides an action the user may not run, but a POST naming it only gets "No action
    selected". Answer 403 instead, so a refused action is as visible as a refused page
    (and a test can tell "refused" from "did nothing")."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if request.method == "POST" and _names_forbidden_action(model_admin, request):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded


def _names_forbidden_action(model_admin: admin.ModelAdmin, request) -> bool:
    for location, field in ACTION_FIELDS:
        names = [name for name in request.POST.getlist(field) if name]
        if not names:
            continue
        allowed = model_admin.get_actions(request, action_location=location)
        if any(model_admin.get_action(n, location) and n not in allowed for n in names):
            return True
    return False
