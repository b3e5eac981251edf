"""Download links for a buyer's stamped report.

The URL is /download/<order reference>/<token>. The token is a secret and an HMAC
(django.core.signing, SECRET_KEY) of the reference and the secret: a tampered token, or one
moved to another order's URL, fails the signature before the database is asked. The secret
is an HMAC of a random seed: the row keeps the seed and the secret's SHA-256, never the
secret, and the mail log keeps the email with the link masked (/download/<ref>/[redacted]);
the mail worker builds the real link when it sends (`download_link_email_fill`), so neither
the database nor its backups hold a working link. Expiry and the download allowance live on
the row, so staff can extend a link."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from common import jobs
from common.logging import secrets_redact
from common.text import control_characters_strip
from contacts.models import OutboundEmail
from contacts.services.outbox import email_queue, email_secrets_register

from ..models import DownloadLink, DownloadLog, Order, OrderEvent, Seat
from .timeline import order_event_add

SALT = "reports.download-link"
SEED_SALT = "reports.download-link.seed"
EMAIL_TEMPLATE = "orders/email/order_download_link"


class LinkState:
    USABLE = "usable"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    REVOKED = "revoked"


class DownloadUnavailable(Exception):
    def __init__(self, state: str):
        super().__init__(state)
        self.state = state


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def download_token_sign(*, reference: str, secret: str) -> str:
    """`<secret>.<HMAC of reference and secret>`: short enough to survive email clients."""
    return f"{secret}.{_signature(reference, secret)}"


def _signature(reference: str, secret: str) -> str:
    return signing.Signer(salt=SALT).signature(f"{reference}/{secret}")


def download_link_create(*, order: Order, seat: Seat | None = None) -> tuple[DownloadLink, str]:
    """A new link and its absolute URL (kept by no one: the email is stored masked). With a
    `seat`, the link serves that seat's own stamped copy."""
    seed = secrets.token_urlsafe(32)
    link = DownloadLink(
        order=order,
        seat=seat,
        token_seed=seed,
        token_hash=_hash(_secret(seed)),
        expires_at=timezone.now() + timedelta(days=settings.DOWNLOAD_LINK_TTL_DAYS),
        max_downloads=settings.DOWNLOAD_LINK_MAX_DOWNLOADS,
    )
    link.full_clean()
    link.save()
    return link, download_link_url(link=link)


def _secret(seed: str) -> str:
    return signing.Signer(salt=SEED_SALT).signature(seed)


def download_link_url(*, link: DownloadLink) -> str:
    """The link's absolute URL, built from its seed with SECRET_KEY."""
    if not link.token_seed:
        raise ValueError(f"{link} was made before links could be built again")
    reference = link.order.reference
    token = download_token_sign(reference=reference, secret=_secret(link.token_seed))
    path = reverse("orders:download", kwargs={"reference": reference, "token": token})
    return f"{settings.SITE_URL}{path}"


def download_link_find(*, reference: str, token: str) -> DownloadLink | None:
    """The link, if the token's signature matches this order's reference (a token copied
    onto another order's URL fails here) and its secret is one we issued."""
    secret, _, signature = token.rpartition(".")
    if not secret or not constant_time_compare(signature, _signature(reference, secret)):
        return None
    return (
        DownloadLink.objects.select_related("order__report", "order__deliverable", "seat")
        .filter(order__reference=reference, token_hash=_hash(secret))
        .first()
    )


def download_link_state(*, link: DownloadLink) -> str:
    if link.revoked_at or link.order.access_revoked:
        return LinkState.REVOKED
    if link.expires_at <= timezone.now():
        return LinkState.EXPIRED
    if link.download_count >= link.max_downloads:
        return LinkState.EXHAUSTED
    return LinkState.USABLE


def download_claim(*, link: DownloadLink, ip: str, user_agent: str) -> DownloadLog:
    """Count one download, atomically: the conditional UPDATE can't let a sixth concurrent
    request through a five-download link, nor one through a link revoked a moment ago.

    Every condition is on the link's own row: PostgreSQL re-checks those against the newest
    row version after waiting for a concurrent update, but a condition on a joined table
    (e.g. the order's status) would become a subquery judged on a stale snapshot. A refund
    or dispute therefore revokes the links themselves (`download_links_revoke`)."""
    with transaction.atomic():
        claimed = DownloadLink.objects.filter(
            pk=link.pk,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
            download_count__lt=F("max_downloads"),
        ).update(download_count=F("download_count") + 1)
        if not claimed:
            link.refresh_from_db()
            link.order.refresh_from_db()
            raise DownloadUnavailable(download_link_state(link=link))
        return DownloadLog.objects.create(
            link=link,
            order=link.order,
            ip=ip,
            user_agent=control_characters_strip(user_agent)[:300],
        )


def deliverable_open(*, order: Order):
    return storages["private"].open(order.deliverable.path, "rb")


def link_file_path(*, link: DownloadLink) -> str:
    """The copy a link serves: its seat's own, or the buyer's."""
    return link.seat.path if link.seat_id else link.order.deliverable.path


def link_file_open(*, link: DownloadLink):
    return storages["private"].open(link_file_path(link=link), "rb")


def download_links_revoke(*, order: Order, reason: str) -> int:
    return order.download_links.filter(revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoke_reason=reason
    )


def download_link_send(*, order: Order, first: bool = False) -> DownloadLink:
    """Email a fresh link to the purchase email (never anywhere else). Earlier links are
    superseded (the buyer's, not the seats'), so one link is live at a time. Call inside the
    order's transaction. The mail log stores the email with the link masked; it is filled in
    at send time."""
    order.download_links.filter(seat__isnull=True, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoke_reason=DownloadLink.RevokeReason.SUPERSEDED
    )
    link, url = download_link_create(order=order)
    email_queue(
        to=order.buyer_email,
        template=EMAIL_TEMPLATE,
        context={
            "order": order,
            "report": order.report,
            "url": secrets_redact(url),
            "link": link,
            "first": first,
        },
        related=order,
        contact=order.contact,
        dedupe_key=f"download-link:{link.pk}",
    )
    return link


def download_link_email_fill(email: OutboundEmail) -> dict[str, str]:
    """{masked URL: real URL} for a download-link email being sent (its dedupe key names
    its link). A link gone (purged) or made before seeds existed can't be built: the email
    fails for good, and staff send a fresh link from the order."""
    link_id = (email.dedupe_key or "").removeprefix("download-link:")
    link = DownloadLink.objects.select_related("order").filter(pk=int(link_id or 0)).first()
    if link is None or not link.token_seed:
        raise jobs.GiveUp(
            "Its download link can't be built again: send a fresh link from the order."
        )
    url = download_link_url(link=link)
    return {secrets_redact(url): url}


email_secrets_register(template=EMAIL_TEMPLATE, fill=download_link_email_fill)


@transaction.atomic
def download_link_reissue(*, order: Order, actor=None, note: str = "") -> DownloadLink:
    """Staff's "re-send link" and the buyer's "send me a fresh link"."""
    order = Order.objects.select_for_update().select_related("report").get(pk=order.pk)
    if order.status != Order.Status.FULFILLED:
        raise DownloadUnavailable(LinkState.REVOKED)
    link = download_link_send(order=order)
    order_event_add(
        order=order,
        kind=OrderEvent.Kind.LINK_ISSUED,
        message=note or f"Link {link.pk} sent to {order.buyer_email}",
        actor=actor,
    )
    return link


@transaction.atomic
def download_links_extend(*, order: Order, actor=None) -> int:
    """Staff: the order's live link gets DOWNLOAD_LINK_TTL_DAYS from now and a fresh
    download allowance. Returns how many links were extended (0 or 1).

    A link that has stopped working (expired, used up, revoked for a refund or a dispute,
    superseded) never works again: its token may sit in a forwarded email or an old log.
    Staff send a fresh link instead (`download_link_reissue`), which only a fulfilled order
    gets, and only to the purchase email."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status != Order.Status.FULFILLED:
        return 0
    now = timezone.now()
    expires_at = now + timedelta(days=settings.DOWNLOAD_LINK_TTL_DAYS)
    links = order.download_links.filter(
        revoked_at__isnull=True, expires_at__gt=now, download_count__lt=F("max_downloads")
    )
    count = links.update(
        expires_at=expires_at,
        max_downloads=F("download_count") + settings.DOWNLOAD_LINK_MAX_DOWNLOADS,
    )
    if not count:
        return 0
    order_event_add(
        order=order,
        kind=OrderEvent.Kind.LINK_EXTENDED,
        message=f"{count} link(s) valid until {expires_at:%Y-%m-%d %H:%M} UTC",
        actor=actor,
    )
    return count


def download_links_purge(*, older_than_days: int) -> int:
    """Delete links that stopped working (expired or revoked) more than `older_than_days`
    ago: only a hash of each token is stored, but a table of dead tokens serves nobody. The
    download log keeps its rows (its link becomes empty); the order keeps its history."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    dead = DownloadLink.objects.filter(Q(expires_at__lt=cutoff) | Q(revoked_at__lt=cutoff))
    _, per_model = dead.delete()
    return per_model.get(DownloadLink._meta.label, 0)
