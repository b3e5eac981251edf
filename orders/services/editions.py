"""New editions: when staff publish a new edition of a report (reports/services/editions.py,
`report_edition_published`), everyone who bought it is told, each person once.

- An order paid within FREE_UPDATE_MONTHS before the edition was published gets it free: the
  buyer and every held seat get a freshly stamped copy of the new edition (stamped from its
  rendered base, like every copy) and a download link of their own by email. The new copy
  replaces the old one behind the person's links (the order's deliverable, the seat's copy),
  and earlier links are superseded, as with any fresh link.
- An older order's buyer gets an upgrade offer: a quote link (orders/quotes.py) to the
  purchase page for the same licence at the edition's discount off today's list price in the
  order's currency, valid QUOTE_VALID_DAYS. It is sent as marketing under its own purpose,
  "editions" (an offer to an existing customer about what they bought: it carries the
  one-click unsubscribe, and an unsubscribed or erased buyer is not sent it).
- Only fulfilled orders count: refunded or disputed orders (access withdrawn) get nothing,
  nor do orders whose copy was stamped after the edition (they have it already).

Two jobs (common/jobs.py). "order.edition_notices" (target: the edition) makes one
`EditionNotice` row per person, its unique constraint being the "once" (a second run, a
second publish of the same edition, two workers: the row is there, nothing new is made), and
queues "order.edition_notice" for each new row. That job stamps outside any transaction, then
records the copy, the link and the email in one transaction with its completion, unless the
order lost access or the seat was given away meanwhile."""

import logging
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from common import jobs
from common.files import private_files_delete_later
from common.logging import secrets_redact
from contacts.models import Contact
from contacts.services.marketing import (
    Purpose,
    marketing_block_reason,
    marketing_consent_current,
    marketing_consent_record,
    marketing_email_queue,
    marketing_purpose_register,
)
from contacts.services.outbox import email_queue, email_secrets_register
from reports.models import ReportEdition
from reports.services.documents import DocumentNotReady, licensed_copy_create, seat_copy_create

from ..models import Deliverable, DownloadLink, EditionNotice, Order, OrderEvent, Seat
from ..quotes import upgrade_quote_token_create
from .downloads import download_link_create, download_link_email_fill
from .seats import seat_capacity, seats_held
from .timeline import order_event_add

logger = logging.getLogger(__name__)
NOTICES_JOB = "order.edition_notices"
NOTICE_JOB = "order.edition_notice"
COPY_TEMPLATE = "orders/email/new_edition"
OFFER_TEMPLATE = "orders/email/edition_upgrade_offer"
EDITIONS = "editions"  # the marketing purpose of upgrade offers
Kind = EditionNotice.Kind


def edition_published_receive(sender, *, edition: ReportEdition, **kwargs) -> None:
    """`report_edition_published`: queue the notices after commit (again for an edition
    published again: the rerun finds everyone told and adds only who was missed)."""
    jobs.enqueue(NOTICES_JOB, target_id=edition.pk, restart=True)


# --- Who is told what ---------------------------------------------------------------------


def edition_free_since(*, edition: ReportEdition):
    """Orders paid at or after this moment get the edition free."""
    return edition.published_at - relativedelta(months=settings.FREE_UPDATE_MONTHS)


def edition_orders(*, edition: ReportEdition):
    """Fulfilled orders of the report whose copy predates the edition."""
    return (
        Order.objects.filter(
            report_id=edition.report_id,
            status=Order.Status.FULFILLED,
            deliverable__created_at__lt=edition.published_at,
        )
        .exclude(contact__erased_at__isnull=False)
        .select_related("licence")
        .order_by("pk")
    )


def edition_notices_create(*, work: jobs.JobRun) -> None:
    """The "order.edition_notices" job. Each order's rows are their own transaction, so a
    rerun after a failure picks up where this one stopped."""
    edition = ReportEdition.objects.select_related("report").get(pk=work.target_id)
    free_since = edition_free_since(edition=edition)
    for order in edition_orders(edition=edition).iterator():
        if order.paid_at and order.paid_at >= free_since:
            _copy_notices_create(edition=edition, order=order)
        else:
            _offer_notice_create(edition=edition, order=order)


@transaction.atomic
def _copy_notices_create(*, edition: ReportEdition, order: Order) -> None:
    _notice_create(edition=edition, order=order, seat=None, kind=Kind.COPY)
    # Seats stamped after the edition have it already; seats still being prepared get it
    # from their own job (it stamps the current content).
    for seat in seats_held(order).exclude(path="").filter(prepared_at__lt=edition.published_at):
        _notice_create(edition=edition, order=order, seat=seat, kind=Kind.COPY)


def _offer_notice_create(*, edition: ReportEdition, order: Order) -> None:
    licence = order.licence
    if not licence.is_active or order.currency not in settings.CURRENCIES:
        logger.info("order %s: its licence is no longer sold; no upgrade offer", order.pk)
        return
    price = upgrade_price(
        list_price=licence.price_in(order.currency),
        discount_percent=edition.upgrade_discount_percent,
    )
    with transaction.atomic():
        _notice_create(
            edition=edition,
            order=order,
            seat=None,
            kind=Kind.OFFER,
            licence=licence,
            offer_price=price,
            offer_currency=order.currency,
        )


def upgrade_price(*, list_price: Decimal, discount_percent: int) -> Decimal:
    factor = Decimal(100 - discount_percent) / 100
    return (list_price * factor).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _notice_create(*, edition, order, seat, kind, **terms) -> EditionNotice | None:
    """The person's row and its job, or None when they have one already (get_or_create
    falls back on the unique constraint when two runs race)."""
    notice, created = EditionNotice.objects.get_or_create(
        edition=edition, order=order, seat=seat, defaults={"kind": kind, **terms}
    )
    if not created:
        return None
    jobs.enqueue(NOTICE_JOB, target_id=notice.pk, new_target=True)
    return notice


# --- Telling one person -------------------------------------------------------------------


def edition_notice_send(*, work: jobs.JobRun) -> None:
    """The "order.edition_notice" job."""
    notice = EditionNotice.objects.select_related(
        "edition__report", "order__report", "order__licence", "seat"
    ).get(pk=work.target_id)
    if notice.sent_at or notice.skipped:
        return
    if notice.kind == Kind.OFFER:
        with work.completing():
            _offer_send(notice_id=notice.pk)
        return
    try:
        path = _copy_stamp(notice)
    except DocumentNotReady as exc:
        raise jobs.Retry(
            f"The new edition's base PDF is not rendered yet ({exc}).", after=exc.render_job
        ) from exc
    with work.completing():
        _copy_record(notice_id=notice.pk, path=path)


def _copy_stamp(notice: EditionNotice) -> str:
    order, seat = notice.order, notice.seat
    hint = f"orders/{order.report.number}/{order.reference}-edition-{notice.edition_id}"
    if seat is None:
        return licensed_copy_create(
            report=order.report,
            company=order.buyer_company,
            licence_name=order.licence_name,
            order_reference=order.reference,
            path_hint=hint,
        )
    return seat_copy_create(
        report=order.report,
        name=seat.name,
        company=order.buyer_company,
        seat=seat.number,
        seats=seat_capacity(order),
        path_hint=f"{hint}-seat-{seat.pk}",
    )


def _locked(notice_id: int) -> tuple[EditionNotice, Order]:
    notice = EditionNotice.objects.select_for_update().get(pk=notice_id)
    order = (
        Order.objects.select_for_update(of=("self",))
        .select_related("report", "licence", "contact")
        .get(pk=notice.order_id)
    )
    return notice, order


def _skip(notice: EditionNotice, reason: str) -> None:
    notice.skipped = reason[:200]
    notice.save(update_fields=["skipped"])
    logger.info("edition notice %s not sent: %s", notice.pk, reason)


def _copy_record(*, notice_id: int, path: str) -> None:
    notice, order = _locked(notice_id)
    seat = Seat.objects.select_for_update().get(pk=notice.seat_id) if notice.seat_id else None
    reason = _copy_block_reason(notice=notice, order=order, seat=seat)
    if reason:
        private_files_delete_later([path])
        if not notice.sent_at:
            _skip(notice, reason)
        return
    if seat is None:
        deliverable = Deliverable.objects.select_for_update().get(order=order)
        old, deliverable.path = deliverable.path, path
        deliverable.save(update_fields=["path"])
        links = order.download_links.filter(seat__isnull=True)
    else:
        old, seat.path, seat.prepared_at = seat.path, path, timezone.now()
        seat.save(update_fields=["path", "prepared_at"])
        links = seat.download_links.all()
    if old != path:
        private_files_delete_later([old])
    links.filter(revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoke_reason=DownloadLink.RevokeReason.SUPERSEDED
    )
    link, url = download_link_create(order=order, seat=seat)
    _copy_email_queue(notice=notice, order=order, seat=seat, link=link, url=url)
    _sent(notice, order, f"New edition ({notice.edition.edition_date:%-d %B %Y}) sent to")


def _copy_block_reason(*, notice, order, seat) -> str:
    if notice.sent_at:
        return "already sent"
    if order.status != Order.Status.FULFILLED:
        return f"the order is {order.get_status_display().lower()}"
    if seat is not None and seat.released_at:
        return "the seat was given to someone else"
    return ""


def _copy_email_queue(*, notice, order, seat, link, url) -> None:
    email_queue(
        to=seat.email if seat else order.buyer_email,
        template=COPY_TEMPLATE,
        context={
            "order": order,
            "report": order.report,
            "edition": notice.edition,
            "name": seat.name if seat else order.buyer_name,
            "seat": seat,
            "seats": seat_capacity(order),
            "url": secrets_redact(url),
            "link": link,
        },
        related=order,
        contact=None if seat else order.contact,
        dedupe_key=f"download-link:{link.pk}",  # the fill below finds the link by it
    )


def _sent(notice: EditionNotice, order: Order, what: str) -> None:
    notice.sent_at = timezone.now()
    notice.save(update_fields=["sent_at"])
    who = f"seat {notice.seat.number} ({notice.seat.name})" if notice.seat_id else "the buyer"
    order_event_add(order=order, kind=OrderEvent.Kind.NOTE, message=f"{what} {who}")


def _offer_send(*, notice_id: int) -> None:
    notice, order = _locked(notice_id)
    if notice.sent_at:
        return
    if order.status != Order.Status.FULFILLED:
        _skip(notice, f"the order is {order.get_status_display().lower()}")
        return
    reason = marketing_block_reason(contact=order.contact, purpose=EDITIONS)
    if reason:
        _skip(notice, reason)
        return
    report = order.report
    url = (
        settings.SITE_URL
        + reverse("orders:purchase", args=[report.number])
        + f"?quote={upgrade_quote_token_create(notice_id=notice.pk)}"
    )
    marketing_email_queue(
        contact=order.contact,
        purpose=EDITIONS,
        template=OFFER_TEMPLATE,
        context={
            "order": order,
            "report": report,
            "edition": notice.edition,
            "notice": notice,
            "url": url,
            "valid_days": settings.QUOTE_VALID_DAYS,
        },
        related=order,
        dedupe_key=f"edition-offer:{notice.pk}",
    )
    _sent(notice, order, f"Upgrade offer ({notice.edition.upgrade_discount_percent}% off) sent to")


def edition_notice_give_up(notice_id: int, error: str) -> None:
    EditionNotice.objects.filter(pk=notice_id).update(error=error)


email_secrets_register(template=COPY_TEMPLATE, fill=download_link_email_fill)


# --- The "editions" marketing purpose -----------------------------------------------------


def _editions_block_reason(contact: Contact) -> str:
    """Buyers hear about new editions of what they bought unless they said no (the offer
    is only ever sent to a buyer; anyone else has nothing to withdraw on the preferences
    page)."""
    if not contact.orders.filter(status=Order.Status.FULFILLED).exists():
        return "No report bought."
    consent = marketing_consent_current(contact=contact, purpose=EDITIONS)
    return "Unsubscribed from new-edition offers." if consent and not consent.granted else ""


marketing_purpose_register(
    Purpose(
        name=EDITIONS,
        label="Offers of new editions of reports I bought",
        block_reason=_editions_block_reason,
        withdraw=lambda contact, source: marketing_consent_record(
            contact=contact, purpose=EDITIONS, granted=False, source=source
        ),
        # No grant: once withdrawn, offers stay off (buying again does not restart them).
    )
)
