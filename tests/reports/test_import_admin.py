"""The same import from the admin: upload, a preview with per-line errors (nothing written),
then confirm."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from reports.models import Report
from tests.factories import UserFactory
from tests.reports.test_import import line

pytestmark = pytest.mark.django_db

URL = reverse("admin:reports_report_import")


def upload(name: str, lines: list) -> SimpleUploadedFile:
    body = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    return SimpleUploadedFile(name, body.encode(), content_type="application/octet-stream")


def test_upload_preview_then_confirm(admin_client):
    changelist = admin_client.get(reverse("admin:reports_report_changelist")).content.decode()
    assert f'href="{URL}"' in changelist
    assert 'type="file"' in admin_client.get(URL).content.decode()
    lines = [line(7000001), line(7000002, cagr_percent="fast"), "{oops", line(7000003)]

    preview = admin_client.post(URL, {"file": upload("feed.jsonl", lines)})

    html = preview.content.decode()
    assert preview.context["stage"] == "preview"
    assert "nothing has been written yet" in html
    summary = preview.context["summary"]
    assert (summary.created, summary.failed, summary.lines) == (2, 2, 4)
    assert "<code>report.cagr_percent</code>" in html and "value must be a decimal number" in html
    assert "<td>3</td>" in html and "not valid JSON" in html
    assert not Report.objects.exists()

    token = preview.context["token"]
    done = admin_client.post(URL, {"token": token, "fmt": "jsonl", "overwrite": "0"})

    assert done.context["stage"] == "done" and done.context["summary"].created == 2
    assert set(Report.objects.values_list("number", flat=True)) == {7000001, 7000003}
    again = admin_client.post(URL, {"token": token, "fmt": "jsonl"})  # the upload is used up
    assert again.status_code == 302 and again["Location"] == URL


def test_a_report_held_by_the_quality_check_is_shown_in_the_preview(admin_client):
    conflicting = line(7000010)
    conflicting["report"]["opportunities"] = "Another source puts the CAGR at 2–3%."
    preview = admin_client.post(URL, {"file": upload("feed.jsonl", [conflicting])})
    html = preview.content.decode()
    assert preview.context["summary"].held_back == 1
    assert "held as a draft: 1 quality error not acknowledged" in html


def test_wrong_files_are_refused_next_to_the_field(admin_client, settings):
    wrong = admin_client.post(URL, {"file": upload("feed.xlsx", [line(7000020)])})
    assert "name it .jsonl or .csv" in " ".join(wrong.context["form"].errors["file"])
    odd = SimpleUploadedFile("feed.csv", b"number,colour\n1,blue\n")
    refused = admin_client.post(URL, {"file": odd})
    assert "Unknown CSV column(s): colour" in " ".join(refused.context["form"].errors["file"])
    settings.CATALOGUE_IMPORT_ADMIN_MAX_MB = 0
    big = admin_client.post(URL, {"file": upload("feed.jsonl", [line(7000021)])})
    assert "manage.py import_reports" in " ".join(big.context["form"].errors["file"])
    assert not Report.objects.exists()


def test_staff_who_may_not_add_reports_cannot_import(client):
    client.force_login(UserFactory())
    assert client.get(URL).status_code == 403
