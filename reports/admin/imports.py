"""Import reports from the admin: upload a JSON Lines or CSV file, see a preview (a dry run:
every line's errors by line number and field, what would be created, updated, kept or held
as a draft), then confirm. The same importer as `manage.py import_reports`.

The upload waits in private storage between preview and confirmation under a random token.
The import runs in the request, so uploads are capped (CATALOGUE_IMPORT_ADMIN_MAX_MB);
publisher-sized feeds go through the command."""

import re
import secrets
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import storages
from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from ..services.imports import ImportFileInvalid, RecordReader, ReportImporter, format_for

TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
SHOWN_LINES = 500  # lines with errors or notes listed on the page; the counts cover all


class UploadForm(forms.Form):
    file = forms.FileField(
        help_text="JSON Lines (.jsonl) or CSV (.csv), as in docs/import-format.md."
    )
    overwrite = forms.BooleanField(
        required=False,
        label="Overwrite staff edits",
        help_text="Rewrite reports from the file even where staff edited them since the last "
        "import.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.CATALOGUE_IMPORT_ADMIN_MAX_MB * 1024 * 1024
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is larger than {settings.CATALOGUE_IMPORT_ADMIN_MAX_MB} MB: import "
                "it with `manage.py import_reports` instead."
            )
        try:
            self.fmt = format_for(upload.name)
        except ImportFileInvalid as exc:
            raise forms.ValidationError(str(exc)) from exc
        return upload


class ImportView:
    def __init__(self, model_admin):
        self.model_admin = model_admin

    def dispatch(self, request):
        if not (
            request.user.has_perm("reports.add_report")
            and request.user.has_perm("reports.change_report")
        ):
            raise PermissionDenied
        if request.method == "POST" and request.POST.get("token"):
            return self._confirm(request)
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            return self._preview(request, form)
        return self._render(request, {"form": form, "stage": "upload"})

    def _preview(self, request, form):
        upload, overwrite = form.cleaned_data["file"], form.cleaned_data["overwrite"]
        token = secrets.token_urlsafe(24)
        storage = storages["private"]
        storage.save(_stored_name(token, form.fmt), upload)
        results = self._run(token, form.fmt, dry_run=True, overwrite=overwrite)
        if results is None:
            storage.delete(_stored_name(token, form.fmt))
            form.add_error("file", self.error)
            return self._render(request, {"form": form, "stage": "upload"})
        summary, lines = results
        context = {
            "stage": "preview",
            "summary": summary,
            "lines": lines,
            "token": token,
            "fmt": form.fmt,
            "overwrite": overwrite,
            "file_name": Path(upload.name).name,
        }
        return self._render(request, context)

    def _confirm(self, request):
        token, fmt = request.POST.get("token", ""), request.POST.get("fmt", "")
        name = _stored_name(token, fmt) if TOKEN.match(token) and fmt in ("jsonl", "csv") else ""
        storage = storages["private"]
        if not name or not storage.exists(name):
            messages.error(request, "That upload has expired or was imported already.")
            return redirect(reverse("admin:reports_report_import"))
        overwrite = request.POST.get("overwrite") == "1"
        results = self._run(token, fmt, dry_run=False, overwrite=overwrite)
        storage.delete(name)
        if results is None:
            messages.error(request, self.error)
            return redirect(reverse("admin:reports_report_import"))
        summary, lines = results
        context = {
            "stage": "done",
            "summary": summary,
            "lines": lines,
            "file_name": request.POST.get("file_name", "")[:200],
        }
        return self._render(request, context)

    def _run(self, token: str, fmt: str, *, dry_run: bool, overwrite: bool):
        lines = []

        def keep(result):
            if (result.errors or result.notes) and len(lines) < SHOWN_LINES:
                lines.append(result)

        importer = ReportImporter(
            dry_run=dry_run,
            overwrite=overwrite,
            batch_size=settings.CATALOGUE_IMPORT_BATCH_SIZE,
            on_result=keep,
        )
        try:
            # An upload is small enough for one transaction: a request that dies midway
            # leaves nothing half-imported (the command commits batch by batch).
            with (
                storages["private"].open(_stored_name(token, fmt), "rb") as stream,
                transaction.atomic(),
            ):
                for record in RecordReader(stream, fmt=fmt):
                    importer.feed(record)
                summary = importer.finish()
        except ImportFileInvalid as exc:
            self.error = str(exc)
            return None
        return summary, lines

    def _render(self, request, context):
        context = {
            **self.model_admin.admin_site.each_context(request),
            "title": "Import reports",
            "opts": self.model_admin.opts,
            "shown_limit": SHOWN_LINES,
            **context,
        }
        return TemplateResponse(request, "admin/reports/report/import.html", context)


def _stored_name(token: str, fmt: str) -> str:
    return f"imports/{token}.{fmt}"
