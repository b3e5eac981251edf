"""Named seats of multi-user and enterprise licences.

The buyer's own copy is seat 1 (stamped with the company, as every order's copy); the buyer
names colleagues for seats 2 and up to the licence's `max_users` (an enterprise licence has
no limit, but every seat is still named). Each seat gets its own copy, stamped "Licensed to
<name>, <company> — seat 2 of 5" on every page from the rendered base (no re-render), and
its own download link, emailed to the seat holder. Reassigning a seat releases the old row:
its links stop (revoked, "reassigned") and its copy is deleted; a new row with the same
number gets a copy of its own. A refund or a lost dispute revokes every link of the order,
the seats' included (orders/services/refunds.py).

The copy is stamped by the "order.seat_copy" job: stamping runs outside any transaction,
then the copy is recorded and the link emailed in one transaction with the job's
completion, unless the seat was released or the order lost its access meanwhile."""

import logging

from django.db import transaction
from django.utils import timezone

from common import jobs
from common.files import private_files_delete_later
from common.logging import secrets_redact
from contacts.services.outbox import email_queue, email_secrets_register
from reports.services.documents import DocumentNotReady, seat_copy_create

from ..models import DownloadLink, Order, OrderEvent, Seat
from .downloads import download_link_create, download_link_email_fill
from .timeline import order_event_add

logger = logging.getLogger(__name__)
SEAT_COPY_JOB = "order.seat_copy"
EMAIL_TEMPLATE = "orders/email/seat_download_link"
FIRST_NAMED_SEAT = 2  # seat 1 is the buyer's own copy


class SeatNotAllowed(Exception):
    pass


def seat_capacity(order: Order) -> int | None:
    """How many users the licence allows, the buyer included; None: unlimited."""
    return order.licence.max_users


def order_has_seats(order: Order) -> bool:
    capacity = seat_capacity(order)
    return capacity is None or capacity >= FIRST_NAMED_SEAT


def seats_held(order: Order):
    return order.seats.filter(released_at__isnull=True).order_by("number")


def seats_free(order: Order) -> int | None:
    """Named seats the buyer may still add; None: no limit."""
    capacity = seat_capacity(order)
    if capacity is None:
        return None
    return max(0, capacity - 1 - seats_held(order).count())


def _order_locked(order: Order) -> Order:
    order = Order.objects.select_for_update().select_related("licence", "report").get(pk=order.pk)
    if order.status != Order.Status.FULFILLED:
        raise SeatNotAllowed(f"Order {order.reference} is {order.get_status_display().lower()}.")
    if not order_has_seats(order):
        raise SeatNotAllowed(f"The {order.licence_name} licence is for one user.")
    return order


@transaction.atomic
def seat_add(*, order: Order, name: str, email: str, actor=None) -> Seat:
    """Name a colleague for the next free seat; their copy is stamped and emailed."""
    order = _order_locked(order)
    if seats_free(order) == 0:
        raise SeatNotAllowed(f"All {seat_capacity(order)} seats of this licence are named.")
    taken = set(seats_held(order).values_list("number", flat=True))
    number = next(
        n for n in range(FIRST_NAMED_SEAT, FIRST_NAMED_SEAT + len(taken) + 1) if n not in taken
    )
    seat = _seat_create(order=order, number=number, name=name, email=email)
    order_event_add(
        order=order,
        kind=OrderEvent.Kind.NOTE,
        message=f"Seat {number} named: {seat.name}",
        actor=actor,
    )
    return seat


def _seat_create(*, order: Order, number: int, name: str, email: str) -> Seat:
    seat = Seat(order=order, number=number, name=name.strip(), email=email.strip())
    seat.full_clean()
    seat.save()
    jobs.enqueue(SEAT_COPY_JOB, target_id=seat.pk, new_target=True)
    return seat


@transaction.atomic
def seat_reassign(*, seat: Seat, name: str, email: str, actor=None) -> Seat:
    """Give a seat to someone else: the old holder's links stop and their copy is deleted;
    the new holder gets a copy of their own."""
    order = _order_locked(seat.order)
    seat = Seat.objects.select_for_update().get(pk=seat.pk, order=order)
    if seat.released_at:
        raise SeatNotAllowed(f"Seat {seat.number} was already given to someone else.")
    _seat_release(seat=seat)
    new = _seat_create(order=order, number=seat.number, name=name, email=email)
    order_event_add(
        order=order,
        kind=OrderEvent.Kind.NOTE,
        message=f"Seat {seat.number} reassigned from {seat.name} to {new.name}",
        actor=actor,
    )
    return new


def _seat_release(*, seat: Seat) -> None:
    seat.released_at = timezone.now()
    seat.save(update_fields=["released_at"])
    seat.download_links.filter(revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoke_reason=DownloadLink.RevokeReason.REASSIGNED
    )
    private_files_delete_later([seat.path])


def seat_copy_prepare(*, work: jobs.JobRun) -> None:
    """The "order.seat_copy" job."""
    seat = Seat.objects.select_related("order__report", "order__licence").get(pk=work.target_id)
    order = seat.order
    if seat.released_at or seat.path or order.status != Order.Status.FULFILLED:
        return
    try:
        path = seat_copy_create(
            report=order.report,
            name=seat.name,
            company=order.buyer_company,
            seat=seat.number,
            seats=seat_capacity(order),
            path_hint=f"orders/{order.report.number}/{order.reference}-seat-{seat.pk}",
        )
    except DocumentNotReady as exc:
        raise jobs.Retry(
            f"The report's base PDF is not rendered yet ({exc}).", after=exc.render_job
        ) from exc
    with work.completing():
        _seat_copy_record(seat_id=seat.pk, path=path)


def _seat_copy_record(*, seat_id: int, path: str) -> None:
    seat = Seat.objects.select_for_update().select_related("order__report").get(pk=seat_id)
    if seat.released_at or seat.path or seat.order.status != Order.Status.FULFILLED:
        logger.info("seat %s was released or its order lost access; not delivered", seat.pk)
        private_files_delete_later([path])
        return
    seat.path = path
    seat.prepared_at = timezone.now()
    seat.error = ""
    seat.save(update_fields=["path", "prepared_at", "error"])
    seat_link_send(seat=seat, first=True)


def seat_copy_give_up(seat_id: int, error: str) -> None:
    Seat.objects.filter(pk=seat_id).update(error=error)


def seat_link_send(*, seat: Seat, first: bool = False) -> DownloadLink:
    """Email the seat holder a fresh link to their copy (earlier ones are superseded)."""
    seat.download_links.filter(revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoke_reason=DownloadLink.RevokeReason.SUPERSEDED
    )
    link, url = download_link_create(order=seat.order, seat=seat)
    email_queue(
        to=seat.email,
        template=EMAIL_TEMPLATE,
        context={
            "order": seat.order,
            "report": seat.order.report,
            "seat": seat,
            "seats": seat_capacity(seat.order),
            "url": secrets_redact(url),
            "link": link,
            "first": first,
        },
        related=seat.order,
        dedupe_key=f"download-link:{link.pk}",
    )
    return link


@transaction.atomic
def seat_link_reissue(*, seat: Seat, actor=None) -> DownloadLink:
    """The buyer's (or staff's) "send the seat a fresh link"."""
    order = _order_locked(seat.order)
    seat = Seat.objects.select_for_update().get(pk=seat.pk, order=order)
    if seat.released_at or not seat.path:
        raise SeatNotAllowed(f"Seat {seat.number}'s copy is not ready.")
    link = seat_link_send(seat=seat)
    order_event_add(
        order=order,
        kind=OrderEvent.Kind.LINK_ISSUED,
        message=f"Link {link.pk} sent to seat {seat.number} ({seat.name})",
        actor=actor,
    )
    return link


@transaction.atomic
def seats_links_send(*, order: Order) -> int:
    """Access restored (a won dispute): every held seat gets a fresh link, or its copy
    prepared if a withdrawal stopped it before it was ready. Returns how many seats."""
    held = list(seats_held(order))
    for seat in held:
        if seat.path:
            seat_link_send(seat=seat)
        else:
            jobs.enqueue(SEAT_COPY_JOB, target_id=seat.pk, restart=True)
    return len(held)


email_secrets_register(template=EMAIL_TEMPLATE, fill=download_link_email_fill)
