"""Contacts (one per address, with their whole journey) and the canned reply templates."""

from django.contrib import admin
from django.db.models import Count

from ..models import Contact, ReplyTemplate
from ..selectors import contact_journey


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "subject", "is_active", "position", "updated_at")
    list_editable = ("is_active", "position")
    search_fields = ("name", "subject", "body")


# --- Contacts -------------------------------------------------------------------------------


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    change_form_template = "admin/enquiries/contact/change_form.html"
    list_display = (
        "name",
        "email",
        "company",
        "job_title",
        "country",
        "enquiry_count",
        "created_at",
    )
    search_fields = ("email", "name", "company")
    list_filter = ("country",)
    readonly_fields = ("email", "created_at", "updated_at")
    fields = (
        "email",
        "name",
        "company",
        "job_title",
        "country",
        "phone",
        "created_at",
        "updated_at",
    )

    class Media:
        css = {"all": ("enquiries/admin/inbox.css",)}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(enquiry_total=Count("enquiries"))

    def has_add_permission(self, request):
        return False  # contacts come from forms and orders, one per address

    @admin.display(description="Enquiries", ordering="enquiry_total")
    def enquiry_count(self, obj):
        return obj.enquiry_total

    def change_view(self, request, object_id, form_url="", extra_context=None):
        contact = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if contact is not None:
            extra_context["journey"] = contact_journey(contact=contact)
        return super().change_view(request, object_id, form_url, extra_context)
