"""Contacts in admin: one per address, with their whole journey (samples, enquiries, orders),
their data exported or erased on request. Here, on top of every app, because the page reads
them all."""

import json

from django.contrib import admin, messages
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from common.admin_filters import CountryPresentFilter
from contacts.models import Contact
from contacts.selectors import contact_consent_history, contact_marketing_emails
from enquiries.selectors import contact_followups, contact_journey

from . import services as privacy


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    change_form_template = "admin/contacts/contact/change_form.html"
    # Four dense columns that fit beside the country filter at 1280 px (issue 26).
    list_display = ("person_column", "company_column", "enquiry_count", "created_column")
    list_display_links = ("person_column",)
    search_fields = ("email", "name", "company")
    list_filter = (CountryPresentFilter,)
    actions = ("export_personal_data", "erase_personal_data")
    readonly_fields = ("email", "created_at", "updated_at", "erased_at")
    fields = (
        "email",
        "name",
        "company",
        "job_title",
        "country",
        "phone",
        "created_at",
        "updated_at",
        "erased_at",
    )

    class Media:
        css = {"all": ("enquiries/admin/inbox.css",)}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(enquiry_total=Count("enquiries"))

    def has_add_permission(self, request):
        return False  # contacts come from forms and orders, one per address

    @admin.display(description="Contact", ordering="name")
    def person_column(self, obj):
        return format_html(
            '{}<div class="list-sub list-email">{}</div>', obj.name or obj.email, obj.email
        )

    @admin.display(description="Company · role · country", ordering="company")
    def company_column(self, obj):
        return format_html(
            '{}<div class="list-sub">{}</div>',
            obj.company or "—",
            " · ".join(
                part for part in (obj.job_title, obj.country.name if obj.country else "") if part
            ),
        )

    @admin.display(description="Enquiries", ordering="enquiry_total")
    def enquiry_count(self, obj):
        return obj.enquiry_total

    @admin.display(description="Added", ordering="created_at")
    def created_column(self, obj):
        return format_html(
            '<span class="list-nowrap">{}</span>', f"{timezone.localtime(obj.created_at):%Y-%m-%d}"
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        contact = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if contact is not None:
            extra_context["journey"] = contact_journey(contact=contact)
            # Marketing: what the person agreed to, what we sent, and why a step was not.
            extra_context["consents"] = contact_consent_history(contact=contact)
            extra_context["marketing_emails"] = contact_marketing_emails(contact=contact)
            extra_context["follow_ups"] = contact_followups(contact=contact)
            extra_context["alerts"] = contact.alerts.select_related("category")
        return super().change_view(request, object_id, form_url, extra_context)

    # --- The person's rights: a copy of their data, and erasure ----------------------------

    def has_export_permission(self, request) -> bool:
        return request.user.has_perm("contacts.export_contact")

    def has_erase_permission(self, request) -> bool:
        return request.user.has_perm("contacts.erase_contact")

    @admin.action(description="Export the contact's personal data (JSON)", permissions=["export"])
    def export_personal_data(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one contact to export.", messages.ERROR)
            return None
        contact = queryset.get()
        data = privacy.contact_data_export(contact=contact)
        response = HttpResponse(
            json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
            content_type="application/json; charset=utf-8",
        )
        stamp = timezone.now().strftime("%Y%m%d")
        response["Content-Disposition"] = (
            f'attachment; filename="contact-{contact.pk}-{stamp}.json"'
        )
        response["Cache-Control"] = "private, no-store"
        self.log_change(request, contact, "Exported the contact's personal data.")
        return response

    @admin.action(description="Erase the contact's personal data…", permissions=["erase"])
    def erase_personal_data(self, request, queryset):
        """Asks first (listing what goes), then anonymises through `contact_erase`."""
        contacts = list(queryset.filter(erased_at__isnull=True))
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Erase personal data?",
                "opts": self.opts,
                "contacts": contacts,
                "selected": [c.pk for c in contacts],
            }
            return TemplateResponse(request, "admin/contacts/contact/erase_confirm.html", context)
        for contact in contacts:
            counts = privacy.contact_erase(contact=contact)
            erased = Contact.objects.get(pk=contact.pk)
            self.log_change(request, erased, f"Erased the contact's personal data: {counts}.")
        self.message_user(
            request,
            f"Erased the personal data of {len(contacts)} contact(s): leads anonymised, "
            "email bodies dropped, orders kept without the buyer. Their personalised PDFs are "
            "deleted by a background job, retried until the storage has deleted them all.",
            messages.SUCCESS,
        )
        return None
