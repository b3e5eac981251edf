"""The sales inbox through the test client, as a Sales user and as a superuser: the list,
filters, SLA highlight, bulk actions, CSV, the thread, replying, history, the contact's
journey, and each permission boundary proved both ways."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from common.models import Job
from contacts.models import OutboundEmail
from enquiries.models import Enquiry, EnquiryReply, ReplyTemplate
from enquiries.services import enquiries as services
from enquiries.services.enquiries import REPLY_JOB
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:enquiries_enquiry_changelist")


def change_url(enquiry):
    return reverse("admin:enquiries_enquiry_change", args=[enquiry.pk])


def create(report, email="maria@clinsite.example", **kwargs):
    contact = {"email": email, "name": kwargs.pop("name", "Maria Lopez"), "company": "Clinsite"}
    return services.enquiry_create(
        report=report,
        contact_details=contact,
        enquiry_type="pricing",
        question=kwargs.pop("question", "Price for 8 users?"),
        **kwargs,
    )


def age(enquiry, **delta):
    Enquiry.objects.filter(pk=enquiry.pk).update(created_at=timezone.now() - timedelta(**delta))


@pytest.fixture
def sales_client(client, sales_user):
    client.force_login(sales_user)
    return client


@pytest.fixture
def admin_client(superuser):
    from django.test import Client

    client = Client()  # its own session: a test may use both clients
    client.force_login(superuser)
    return client


def listed(response):
    return {e.pk for e in response.context["cl"].result_list}


# --- the list -------------------------------------------------------------------------------


def test_sales_user_sees_the_inbox_with_escaped_visitor_text(sales_client, report):
    create(report, name="Tom <b>Hacker</b>", question="<script>alert(1)</script>")
    html = sales_client.get(CHANGELIST).content.decode()
    assert "Tom &lt;b&gt;Hacker&lt;/b&gt;" in html and "<b>Hacker</b>" not in html
    assert "ENQ-" in html and "Anna Berg" in html and "#1780960" in html


def test_staff_without_permissions_cannot_open_the_inbox(client, report):
    client.force_login(UserFactory(username="intern"))
    assert client.get(CHANGELIST).status_code == 403


def test_inbox_shows_source_age_and_first_response(sales_client, report):
    enquiry = create(report, attribution={"utm_source": "linkedin", "utm_medium": "social"})
    services.enquiry_reply_send(enquiry=enquiry, author=enquiry.owner, subject="Re", body="Answer")
    html = sales_client.get(CHANGELIST).content.decode()
    assert "linkedin / social" in html
    assert "0m" in html and "sla-ok" in html and "1 reply" in html


def test_unanswered_enquiry_past_sla_is_highlighted(sales_client, report):
    late, fresh = create(report, email="late@x.example"), create(report, email="new@x.example")
    age(late, days=7)
    response = sales_client.get(CHANGELIST)
    rows = {e.pk: sales_client_row(response, e) for e in (late, fresh)}
    assert "sla-late" in rows[late.pk] and "overdue" in rows[late.pk]
    assert "sla-late" not in rows[fresh.pk] and "due in" in rows[fresh.pk]


def sales_client_row(response, enquiry):
    html = response.content.decode()
    start = html.index(f">{enquiry.reference}<")
    return html[start : html.index("</tr>", start)]


def test_filters_mine_unanswered_and_past_sla(sales_client, report, sales_user, second_sales_user):
    mine = create(report, email="a@x.example")  # round robin: Anna
    theirs = create(report, email="b@x.example")  # Ben
    answered = create(report, email="c@x.example")  # Anna, answered below
    services.enquiry_reply_send(enquiry=answered, author=sales_user, subject="Re", body="Hi")
    age(theirs, days=7)
    assert listed(sales_client.get(CHANGELIST + "?owner=mine")) == {mine.pk, answered.pk}
    assert listed(sales_client.get(CHANGELIST + "?answer=unanswered")) == {mine.pk, theirs.pk}
    assert listed(sales_client.get(CHANGELIST + "?answer=overdue")) == {theirs.pk}
    assert listed(sales_client.get(CHANGELIST + "?owner=mine&answer=unanswered")) == {mine.pk}


def test_spam_is_hidden_unless_asked_for(sales_client, report, sales_user):
    spam = create(report, email="spam@x.example")
    services.enquiry_status_set(enquiry=spam, status="spam", actor=sales_user)
    assert spam.pk not in listed(sales_client.get(CHANGELIST))
    assert spam.pk in listed(sales_client.get(CHANGELIST + "?status=spam"))


def test_search_by_reference_company_and_question(sales_client, report):
    target = create(report, email="kenji@nihon.example", question="Japan breakdown please")
    other = create(report, email="x@y.example")
    assert listed(sales_client.get(CHANGELIST + f"?q={target.reference}")) == {target.pk}
    assert listed(sales_client.get(CHANGELIST + "?q=Japan+breakdown")) == {target.pk}
    assert other.pk in listed(sales_client.get(CHANGELIST + "?q=clinsite"))


def test_shortcut_counts_above_the_list(sales_client, report, sales_user):
    late = create(report, email="late@x.example")
    age(late, days=7)
    create(report, email="b@x.example")
    counts = sales_client.get(CHANGELIST).context["inbox_counts"]
    assert (counts["unanswered"], counts["overdue"], counts["mine_unanswered"]) == (2, 1, 2)


# --- bulk actions ---------------------------------------------------------------------------


def run_action(client, action, enquiries):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [e.pk for e in enquiries]},
    )


def test_assign_to_me_records_who_in_the_history(
    sales_client, report, sales_user, second_sales_user
):
    create(report, email="a@x.example")
    bens = create(report, email="b@x.example")
    assert bens.owner == second_sales_user
    run_action(sales_client, "assign_to_me", [bens])
    bens.refresh_from_db()
    assert bens.owner == sales_user
    latest = bens.history.latest()
    assert latest.history_user == sales_user and latest.owner_id == sales_user.pk


def test_mark_spam(sales_client, report, sales_user):
    enquiry = create(report)
    run_action(sales_client, "mark_spam", [enquiry])
    enquiry.refresh_from_db()
    assert enquiry.status == "spam" and enquiry.history.latest().history_user == sales_user


def test_csv_export_has_the_leads_and_neutralises_formulas(sales_client, report):
    enquiry = create(
        report,
        question='=HYPERLINK("http://evil.example","click")',
        attribution={"utm_source": "linkedin", "utm_campaign": "spring"},
    )
    response = run_action(sales_client, "export_csv", [enquiry])
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 1
    row = rows[0]
    assert (row["reference"], row["email"], row["utm_source"], row["utm_campaign"]) == (
        enquiry.reference,
        "maria@clinsite.example",
        "linkedin",
        "spring",
    )
    assert row["question"].startswith("'=HYPERLINK")


# --- the enquiry page -----------------------------------------------------------------------


def test_enquiry_page_shows_the_whole_thread_escaped(sales_client, report, sales_user):
    enquiry = create(report, question="<img src=x onerror=alert(1)> Is 8 users ok?")
    services.enquiry_reply_send(
        enquiry=enquiry, author=sales_user, subject="Re: users", body="Yes, <b>8</b> is fine."
    )
    html = sales_client.get(change_url(enquiry)).content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt; Is 8 users ok?" in html
    assert "<img src=x" not in html
    assert "Yes, &lt;b&gt;8&lt;/b&gt; is fine." in html
    assert "Re: users" in html
    assert "Automatic email" in html  # acknowledgement and staff notification
    assert "queued" in html  # the reply's delivery status from the mail log
    assert "status Assigned → Answered" in html


def test_reply_from_the_page_is_sent_through_the_service(sales_client, report, sales_user):
    enquiry = create(report)
    response = sales_client.post(
        reverse("admin:enquiries_enquiry_reply", args=[enquiry.pk]),
        {
            "subject": "Your price",
            "body": "Dear Maria,\n\nSee below.",
            "licence": report.licences.get(kind="multi").pk,
            "quoted_price": "5000",
        },
    )
    assert response.status_code == 302 and response["Location"].endswith("#thread")
    reply = EnquiryReply.objects.get()
    assert (reply.author, reply.quoted_price, reply.licence.kind) == (
        sales_user,
        Decimal("5000"),
        "multi",
    )
    enquiry.refresh_from_db()
    assert enquiry.first_response_at is not None and enquiry.status == "answered"


def test_invalid_reply_shows_the_error_on_the_page_and_sends_nothing(sales_client, report):
    enquiry = create(report)
    emails_before = OutboundEmail.objects.count()
    response = sales_client.post(
        reverse("admin:enquiries_enquiry_reply", args=[enquiry.pk]),
        {"subject": "Price", "body": "See below", "quoted_price": "5000"},
    )
    assert response.status_code == 200
    assert "Choose the licence the special price is for." in response.content.decode()
    assert response.context["reply_form"]["body"].value() == "See below"
    assert OutboundEmail.objects.count() == emails_before and not EnquiryReply.objects.exists()


def test_canned_reply_prefills_the_form(sales_client, report):
    enquiry = create(report)
    template = ReplyTemplate.objects.get(name="Price quote")
    response = sales_client.get(change_url(enquiry) + f"?reply_template={template.pk}")
    form = response.context["reply_form"]
    assert form.initial["subject"] == f"Your price for {report.title}"
    assert form.initial["body"].startswith("Dear Maria,")
    assert form.initial["template"] == template


def test_status_and_owner_changed_on_the_page_are_kept_with_who(
    sales_client, report, sales_user, second_sales_user
):
    enquiry = create(report)
    response = sales_client.post(
        change_url(enquiry),
        {"status": "waiting", "owner": second_sales_user.pk, "staff_notes": "Budget in Q3"},
    )
    assert response.status_code == 302
    enquiry.refresh_from_db()
    assert (enquiry.status, enquiry.owner, enquiry.staff_notes) == (
        "waiting",
        second_sales_user,
        "Budget in Q3",
    )
    latest = enquiry.history.latest()
    assert latest.history_user == sales_user and latest.status == "waiting"
    history_url = reverse("admin:enquiries_enquiry_history", args=[enquiry.pk])
    history = sales_client.get(history_url).content.decode()
    assert "waiting" in history and ">anna<" in history  # the "changed by" column


def test_failed_reply_can_be_retried_from_the_page(sales_client, report, sales_user):
    enquiry = create(report)
    reply = EnquiryReply.objects.create(
        enquiry=enquiry,
        author=sales_user,
        subject="S",
        body="B",
        attach_sample=True,
        status="failed",
        last_error="DocumentNotReady: still rendering",
    )
    Job.objects.create(kind=REPLY_JOB, target_id=reply.pk, state="failed", attempts=8)
    html = sales_client.get(change_url(enquiry)).content.decode()
    assert "DocumentNotReady: still rendering" in html and "Try again" in html
    sales_client.post(reverse("admin:enquiries_enquiry_reply_retry", args=[enquiry.pk, reply.pk]))
    reply.refresh_from_db()
    job = Job.objects.get(kind=REPLY_JOB, target_id=reply.pk)
    assert reply.status == "preparing" and (job.state, job.attempts) == ("pending", 0)


def test_nobody_adds_or_deletes_enquiries_from_admin(sales_client, admin_client, report):
    enquiry = create(report)
    assert sales_client.get(reverse("admin:enquiries_enquiry_add")).status_code == 403
    delete = reverse("admin:enquiries_enquiry_delete", args=[enquiry.pk])
    assert sales_client.get(delete).status_code == 403
    assert admin_client.get(reverse("admin:enquiries_enquiry_add")).status_code == 403
    assert admin_client.get(delete).status_code == 200  # superusers may remove, e.g. test data


def test_view_only_staff_see_the_thread_but_cannot_reply(client, report):
    from django.contrib.auth.models import Permission

    viewer = UserFactory(username="viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_enquiry"))
    client.force_login(viewer)
    enquiry = create(report)
    response = client.get(change_url(enquiry))
    assert response.status_code == 200 and not response.context["can_reply"]
    post = client.post(
        reverse("admin:enquiries_enquiry_reply", args=[enquiry.pk]),
        {"subject": "S", "body": "B"},
    )
    assert post.status_code == 403 and not EnquiryReply.objects.exists()


# --- the contact's journey ------------------------------------------------------------------


def test_contact_page_shows_the_whole_journey_with_sources(sales_client, report):
    enquiry = create(
        report,
        attribution={"utm_source": "linkedin", "utm_medium": "social", "utm_campaign": "spring"},
    )
    age(enquiry, days=12)
    url = reverse("admin:contacts_contact_change", args=[enquiry.contact_id])
    html = sales_client.get(url).content.decode()
    assert "Sent an enquiry 1\xa0week ago from the spring campaign (linkedin / social)" in html
    assert enquiry.reference in html


# --- permission boundaries, both ways -------------------------------------------------------


@pytest.mark.urls("tests.enquiries.probe_urls")
def test_sales_can_view_but_not_change_reports_and_prices(sales_client, report):
    licence = report.licences.get(kind="single")
    report_url = reverse("probe:reports_report_change", args=[report.pk])
    licence_url = reverse("probe:reports_licence_change", args=[licence.pk])
    assert sales_client.get(report_url).status_code == 200  # read-only view
    assert sales_client.post(report_url, {"title": "Hacked"}).status_code == 403
    assert sales_client.post(licence_url, {"price": "1"}).status_code == 403
    assert sales_client.get(reverse("probe:reports_report_add")).status_code == 403
    licence.refresh_from_db()
    assert licence.price == Decimal("3900")


@pytest.mark.urls("tests.enquiries.probe_urls")
def test_superuser_can_change_prices(admin_client, report):
    licence = report.licences.get(kind="single")
    url = reverse("probe:reports_licence_change", args=[licence.pk])
    response = admin_client.post(
        url,
        {
            "position": 1,
            "report": report.pk,
            "kind": "single",
            "description": "One named user.",
            "max_users": 1,
            "price": "4200.00",
            "price_eur": "3900.00",
            "price_gbp": "3300.00",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    licence.refresh_from_db()
    assert licence.price == Decimal("4200")


def test_superuser_sees_and_answers_enquiries_too(admin_client, report, superuser):
    enquiry = create(report)
    assert admin_client.get(change_url(enquiry)).status_code == 200
    admin_client.post(
        reverse("admin:enquiries_enquiry_reply", args=[enquiry.pk]),
        {"subject": "Hello", "body": "From the boss"},
    )
    assert EnquiryReply.objects.get().author == superuser


def test_sales_can_edit_contacts_but_not_their_email(sales_client, report):
    enquiry = create(report)
    url = reverse("admin:contacts_contact_change", args=[enquiry.contact_id])
    response = sales_client.post(
        url,
        {
            "email": "other@x.example",
            "name": "Maria López",
            "company": "Clinsite",
            "job_title": "VP",
            "country": "ES",
            "phone": "",
        },
    )
    assert response.status_code == 302
    enquiry.contact.refresh_from_db()
    assert (enquiry.contact.name, enquiry.contact.email) == (
        "Maria López",
        "maria@clinsite.example",
    )


def test_sales_cannot_open_user_admin(sales_client):
    assert sales_client.get(reverse("admin:auth_user_changelist")).status_code == 403


def test_inbox_costs_the_same_queries_for_5_or_40_enquiries(sales_client, report):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for_list():
        with CaptureQueriesContext(connection) as captured:
            assert sales_client.get(CHANGELIST).status_code == 200
        return len(captured)

    for n in range(5):
        create(report, email=f"first{n}@x.example")
    few = queries_for_list()
    for n in range(35):
        create(report, email=f"more{n}@x.example")
    assert queries_for_list() == few
