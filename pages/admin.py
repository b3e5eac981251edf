from django.contrib import admin, messages

from .models import PageVersion
from .services import page_version_create, page_version_publish


@admin.register(PageVersion)
class PageVersionAdmin(admin.ModelAdmin):
    """Staff write a new version (a draft), then publish it; published versions are read
    only, so what a buyer accepted never changes under them."""

    list_display = ("page", "number", "title", "published_at", "created_by")
    list_filter = ("page",)
    actions = ["publish"]
    readonly_fields = ("number", "published_at", "created_by", "created_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.published_at:
            return ("page", "title", "body", *self.readonly_fields)
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()  # a draft being edited
            return
        created = page_version_create(
            page=obj.page, title=obj.title, body=obj.body, user=request.user
        )
        obj.__dict__.update(created.__dict__)  # the saved row, for the admin's messages and log

    def has_delete_permission(self, request, obj=None):
        return obj is None or obj.published_at is None

    @admin.action(description="Publish the selected drafts", permissions=["change"])
    def publish(self, request, queryset):
        for version in queryset:
            page_version_publish(version=version)
        messages.success(request, f"Published {queryset.count()} version(s).")
