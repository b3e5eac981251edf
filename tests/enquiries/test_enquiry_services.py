"""Enquiry services against the real database: creation, round-robin assignment, staff
updates with history, replies (links, quotes, first response), publication notices."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from contacts.models import OutboundEmail
from enquiries.models import Enquiry, EnquiryReply
from enquiries.services import enquiries as services
from orders.quotes import quote_token_read
from reports.services.catalogue import report_published_effects
from tests.factories import ContactFactory, EnquiryFactory, LicenceFactory, UserFactory
from tests.support.jobs import job_of, run_job
from tests.support.renders import render_queued

pytestmark = pytest.mark.django_db


def create(report, email="maria@clinsite.example", question="Price for 8 users?", **kwargs):
    return services.enquiry_create(
        report=report,
        contact_details={"email": email, "name": "Maria Lopez", "company": "Clinsite"},
        enquiry_type=kwargs.pop("enquiry_type", "pricing"),
        question=question,
        **kwargs,
    )


# --- creation and assignment -----------------------------------------------------------------


def test_new_enquiry_queues_acknowledgement_and_staff_notification(report, settings):
    settings.SALES_INBOX_EMAIL = "sales@reliable-research.example"
    enquiry = create(report)
    emails = {e.template: e for e in OutboundEmail.objects.all()}
    ack = emails["enquiries/email/enquiry_acknowledgement"]
    staff = emails["enquiries/email/enquiry_staff_notification"]
    assert ack.to == "maria@clinsite.example" and ack.related == enquiry
    assert staff.to == "sales@reliable-research.example"
    assert f"/admin/enquiries/enquiry/{enquiry.pk}/change/" in staff.body_text


def test_round_robin_cycles_through_active_sales_members(report, sales_user, second_sales_user):
    UserFactory(username="inactive", is_active=False).groups.add(sales_user.groups.get())
    UserFactory(username="not-sales")
    owners = [create(report, email=f"p{n}@x.example").owner for n in range(5)]
    assert owners == [sales_user, second_sales_user, sales_user, second_sales_user, sales_user]
    assert all(e.status == "assigned" and e.assigned_at for e in Enquiry.objects.all())


def test_manual_reassignment_does_not_skip_anyones_turn(report, sales_user, second_sales_user):
    first = create(report, email="a@x.example")
    services.enquiry_assign(enquiry=first, owner=second_sales_user, actor=sales_user)
    assert create(report, email="b@x.example").owner == second_sales_user
    assert create(report, email="c@x.example").owner == sales_user


def test_new_enquiry_is_stored_once_already_assigned(report, sales_user):
    enquiry = create(report)
    records = list(enquiry.history.all())
    assert len(records) == 1
    assert records[0].status == "assigned" and records[0].owner_id == sales_user.pk


def test_assignment_none_leaves_enquiries_new_and_unassigned(report, sales_user, settings):
    settings.ENQUIRY_ASSIGNMENT = "none"
    enquiry = create(report)
    assert enquiry.owner is None and enquiry.status == "new"


def test_without_sales_members_the_enquiry_stays_unassigned(report, sales_group):
    enquiry = create(report)
    assert enquiry.owner is None and enquiry.status == "new"


def test_enquiry_about_an_upcoming_report_is_flagged(report):
    report.status = "upcoming"
    report.save()
    assert create(report).about_upcoming_report is True


def test_licence_must_belong_to_the_report(report):
    with pytest.raises(ValidationError):
        create(report, licence=LicenceFactory())
    assert Enquiry.objects.count() == 0


# --- staff updates and history ---------------------------------------------------------------


def test_history_records_who_changed_status_and_owner(report, sales_user, second_sales_user):
    enquiry = create(report)
    services.enquiry_update(
        enquiry=enquiry, actor=second_sales_user, status="waiting", owner=second_sales_user
    )
    latest = enquiry.history.latest()
    assert latest.history_user == second_sales_user
    assert (latest.status, latest.owner_id) == ("waiting", second_sales_user.pk)
    assert latest.history_date >= enquiry.created_at


def test_an_edit_from_an_older_copy_keeps_the_answer_times(report, sales_user):
    enquiry = create(report)
    stale = Enquiry.objects.get(pk=enquiry.pk)  # e.g. a page opened before the reply
    reply(enquiry, sales_user)
    services.enquiry_update(enquiry=stale, actor=sales_user, status="waiting", owner=sales_user)
    services.enquiry_status_set(
        enquiry=Enquiry.objects.get(pk=enquiry.pk), status="won", actor=None
    )
    enquiry.refresh_from_db()
    assert enquiry.first_response_at is not None and enquiry.answered_at is not None
    assert enquiry.status == "won"


def test_removing_the_owner_makes_an_assigned_enquiry_new_again(report, sales_user):
    enquiry = create(report)
    services.enquiry_update(enquiry=enquiry, actor=sales_user, status="assigned", owner=None)
    enquiry.refresh_from_db()
    assert enquiry.status == "new" and enquiry.assigned_at is None


# --- replies ------------------------------------------------------------------------------


def reply(enquiry, author, **kwargs):
    defaults = {"subject": "Re: your question", "body": "Dear Maria,\n\nHere you go."}
    return services.enquiry_reply_send(enquiry=enquiry, author=author, **(defaults | kwargs))


def test_reply_records_first_response_once_and_marks_answered(report, sales_user):
    enquiry = create(report)
    first = reply(enquiry, sales_user)
    enquiry.refresh_from_db()
    first_response = enquiry.first_response_at
    assert enquiry.status == "answered" and first_response is not None
    reply(enquiry, sales_user, subject="Follow-up")
    enquiry.refresh_from_db()
    assert enquiry.first_response_at == first_response
    assert enquiry.answered_at > first_response
    assert first.status == EnquiryReply.Status.QUEUED and first.email.to == enquiry.contact.email


def test_reply_email_is_from_the_publisher_with_reply_to_the_author(report, sales_user, settings):
    settings.DEFAULT_FROM_EMAIL = "Reliable Research IQ <reports@reliable-research.example>"
    email = reply(create(report), sales_user).email
    assert email.from_email == "Reliable Research IQ <reports@reliable-research.example>"
    assert email.reply_to == '"Anna Berg (Reliable Research IQ)" <anna@reliable-research.example>'


def test_replying_to_an_unowned_enquiry_takes_ownership(report, sales_group, sales_user):
    enquiry = EnquiryFactory(report=report)
    reply(enquiry, sales_user)
    enquiry.refresh_from_db()
    assert enquiry.owner == sales_user


def test_won_enquiry_stays_won_after_a_reply(report, sales_user):
    enquiry = create(report)
    services.enquiry_status_set(enquiry=enquiry, status="won", actor=sales_user)
    reply(enquiry, sales_user)
    enquiry.refresh_from_db()
    assert enquiry.status == "won"


def test_reply_with_a_licence_links_to_its_purchase_page(report, sales_user, settings):
    settings.SITE_URL = "https://reports.example"
    licence = report.licences.get(kind="multi")
    sent = reply(create(report), sales_user, licence=licence)
    assert sent.purchase_url == "https://reports.example/purchase/1780960?licence=multi"
    assert sent.purchase_url in sent.email.body_text


def test_reply_with_a_quoted_price_sends_a_signed_checkout_link(report, sales_user, settings):
    settings.SITE_URL = "https://reports.example"
    licence = report.licences.get(kind="enterprise")
    sent = reply(create(report), sales_user, licence=licence, quoted_price=Decimal("6500"))
    prefix = "https://reports.example/purchase/1780960?quote="
    assert sent.purchase_url.startswith(prefix)
    terms = quote_token_read(sent.purchase_url.removeprefix(prefix))
    assert terms.pop("reply_id") == sent.pk
    assert terms == {
        "report_number": 1780960,
        "licence_kind": "enterprise",
        "price": Decimal("6500"),
        "currency": "USD",
        "email": "maria@clinsite.example",
    }
    assert "USD 6,500.00" in sent.email.body_text


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"quoted_price": Decimal("100")}, "licence"),
        ({"licence": "other"}, "licence"),
        ({"subject": "Hi\x07there"}, "subject"),
    ],
)
def test_invalid_reply_is_refused_and_nothing_is_sent(report, sales_user, kwargs, field):
    enquiry = create(report)
    if kwargs.get("licence") == "other":
        kwargs["licence"] = LicenceFactory()
    before = OutboundEmail.objects.count()
    with pytest.raises(ValidationError) as error:
        reply(enquiry, sales_user, **kwargs)
    assert field in error.value.message_dict
    assert OutboundEmail.objects.count() == before and not EnquiryReply.objects.exists()
    enquiry.refresh_from_db()
    assert enquiry.first_response_at is None


def test_reply_template_fills_placeholders_and_leaves_unknown_ones(report, sales_user):
    from enquiries.models import ReplyTemplate

    template = ReplyTemplate.objects.create(
        name="T", subject="Price for {report}", body="Dear {first_name}, {licence} {unknown}"
    )
    enquiry = create(report, licence=report.licences.get(kind="multi"))
    subject, body = services.reply_template_render(
        template=template, enquiry=enquiry, author=sales_user
    )
    assert subject == f"Price for {report.title}"
    assert body == "Dear Maria, Multi-user {unknown}"


# --- publication notices ------------------------------------------------------------------


def notices():
    return OutboundEmail.objects.filter(template="enquiries/email/report_published")


def test_enquirers_are_told_once_when_their_upcoming_report_is_published(report):
    report.status = "upcoming"
    report.save()
    maria_first = create(report, email="maria@clinsite.example", question="When?")
    create(report, email="maria@clinsite.example", question="And the price?")
    create(report, email="kenji@nihon.example")
    spam = create(report, email="spam@spam.example")
    services.enquiry_status_set(enquiry=spam, status="spam", actor=None)
    run_job(services.PUBLISHED_JOB, report.pk)
    assert not notices().exists()  # not yet published

    report.status = "published"
    report.save()
    report_published_effects(report=report, was_published=False)
    assert job_of(services.PUBLISHED_JOB, report.pk).state == "pending"  # restarted
    assert run_job(services.PUBLISHED_JOB, report.pk) == "done"
    assert sorted(notices().values_list("to", flat=True)) == [
        "kenji@nihon.example",
        "maria@clinsite.example",
    ]
    maria_first.refresh_from_db()
    assert maria_first.notified_on_publish_at is not None
    report_published_effects(report=report, was_published=False)  # published a second time
    run_job(services.PUBLISHED_JOB, report.pk)
    assert notices().count() == 2  # nobody is told twice


def test_enquiries_made_after_publication_get_no_publication_notice(report):
    create(report)
    run_job(services.PUBLISHED_JOB, report.pk)
    assert not notices().exists()


def test_contact_upsert_keeps_one_contact(report):
    ContactFactory(email="maria@clinsite.example", name="M.")
    create(report)
    create(report, email="MARIA@clinsite.example", question="Another")
    assert Enquiry.objects.values("contact").distinct().count() == 1


# --- replies with a freshly stamped sample ---------------------------------------------------


@pytest.fixture
def seed_enquiry(sales_user):
    from reports.services.seed import report_load_seed

    report = report_load_seed().report
    return create(report, email="maria@clinsite.example")


def test_reply_with_sample_waits_for_the_render_then_attaches_a_stamped_copy(
    seed_enquiry, sales_user
):
    from django.core.files.storage import storages

    from tests.reports.pdf_support import normalise, pdf_pages_text

    sent = reply(seed_enquiry, sales_user, attach_sample=True)
    assert sent.status == "preparing" and sent.email is None

    assert run_job(services.REPLY_JOB, sent.pk).startswith("retry in")
    waiting = EnquiryReply.objects.get(pk=sent.pk)
    job = job_of(services.REPLY_JOB, sent.pk)
    assert waiting.status == "preparing" and job.state == "pending"
    assert "not rendered yet" in job.last_error

    render_queued(seed_enquiry.report)
    assert run_job(services.REPLY_JOB, sent.pk) == "done"
    done = EnquiryReply.objects.get(pk=sent.pk)
    assert done.status == "queued" and done.email.attachment_path == done.sample_path
    with storages["private"].open(done.sample_path) as handle:
        pages = pdf_pages_text(handle.read())
    assert all("Prepared for Maria Lopez, Clinsite" in normalise(text) for text in pages)
    assert run_job(services.REPLY_JOB, sent.pk) == "skipped"  # done: a rerun does nothing
    assert EnquiryReply.objects.get(pk=sent.pk).email_id == done.email_id


def test_reply_whose_sample_never_gets_ready_ends_failed(seed_enquiry, sales_user, settings):
    settings.ENQUIRY_REPLY_MAX_ATTEMPTS = 2
    sent = reply(seed_enquiry, sales_user, attach_sample=True)
    run_job(services.REPLY_JOB, sent.pk)
    assert run_job(services.REPLY_JOB, sent.pk) == "failed"
    failed = EnquiryReply.objects.get(pk=sent.pk)
    assert failed.status == "failed" and "not rendered yet" in failed.last_error
    assert not OutboundEmail.objects.filter(template="enquiries/email/enquiry_reply").exists()
    retried = services.enquiry_reply_retry(reply=failed)
    assert retried.status == "preparing"
    job = job_of(services.REPLY_JOB, sent.pk)
    assert (job.state, job.attempts) == ("pending", 0)
