"""The permission matrix: every admin page and every admin action of every model registered in
admin, opened by a Sales member and by a superuser, answers as README's "Who may do what in
admin" table says: allowed (any answer but 403, never 5xx) or 403 with nothing changed in
the database or private storage. Pages and actions are read from `admin.site._registry`, so
a new model, page or action is in the matrix without editing this file (and fails it until
README says who may use it)."""

import hashlib
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.test import override_settings
from django.urls import URLPattern, reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from common.models import Job
from contacts.models import OutboundEmail
from contacts.services.outbox import email_queue
from enquiries.models import Enquiry, FollowUp, InboundEmail, ReplyTemplate
from enquiries.services import enquiries as enquiry_services
from enquiries.services.followups import followup_steps_default_create
from enquiries.services.sales_group import sales_group_sync
from orders.models import Order, StripeEvent
from reports.models import QualityAcknowledgement, Region, ReportDocument, ReportEdition
from reports.services import documents
from tests.factories import (
    ContactFactory,
    EnquiryFactory,
    LicenceFactory,
    RegionFactory,
    SampleRequestFactory,
    UserFactory,
)
from tests.reports.orders_support import fulfilled_order, tiny_pdf
from tests.support.worker import WorkerProcess

README = Path(__file__).resolve().parents[2] / "README.md"
# Standard admin URL names (after "<app>_<model>_") and the page kinds they give.
STANDARD = {"changelist": ["list"], "add": ["add"], "change": ["view", "change"]}
STANDARD |= {"delete": ["delete"], "history": ["history"]}
# Pages whose URL has unnamed groups (re_path), and what those groups are.
POSITIONAL = {"enquiries_enquiry_simple_history": ("object_id", "version_id")}


# --- What README promises ------------------------------------------------------------------


def readme_matrix() -> dict[str, tuple[str, str]]:
    text = README.read_text()
    section = text.split("### Who may do what in admin", 1)[1]
    rows = re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \| (.+?) \| (.+?) \|$", section, re.MULTILINE)
    return {label: (sales, superuser) for label, sales, superuser in rows}


def allowed_by(spec: str, pages: set[str], actions: set[str]) -> set[str]:
    """ "none", "all", "all but a, b", or "page, page; actions: a, b" as probe names
    (actions as "action:<name>"). A name that is neither a page nor an action is a typo."""
    everything = pages | {f"action:{a}" for a in actions}
    spec = spec.strip()
    if spec == "none":
        return set()
    if spec.startswith("all"):
        refused = _names(spec.removeprefix("all").removeprefix(" but"))
        unknown = refused - pages - actions
        assert not unknown, f"README names unknown pages or actions: {unknown}"
        return {n for n in everything if n.removeprefix("action:") not in refused}
    page_part, _, action_part = spec.partition("; actions:")
    listed_pages, listed_actions = _names(page_part), _names(action_part)
    assert listed_pages <= pages, f"README names unknown pages: {listed_pages - pages}"
    assert listed_actions <= actions, f"unknown actions: {listed_actions - actions}"
    return listed_pages | {f"action:{a}" for a in listed_actions}


def _names(text: str) -> set[str]:
    return {name.strip() for name in text.split(",") if name.strip()}


# --- What the admin has ----------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    label: str  # app_label.model_name
    name: str  # a page kind, or "action:<name>"
    url_name: str
    method: str


def model_probes(model, model_admin) -> list[Probe]:
    label = model._meta.label_lower
    prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
    probes = []
    for pattern in model_admin.get_urls():
        if not isinstance(pattern, URLPattern) or not pattern.name:
            continue  # the old-style "<object_id>/" redirect
        suffix = pattern.name.removeprefix(prefix)
        for kind in STANDARD.get(suffix, [suffix]):
            method = "GET" if kind in ("list", "add", "view", "history") else "POST"
            probes.append(Probe(label, kind, pattern.name, method))
    for action in model_admin._get_base_actions():
        probes.append(Probe(label, f"action:{action.name}", f"{prefix}changelist", "POST"))
    return probes


def all_probes() -> list[Probe]:
    registry = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label_lower)
    return [probe for model, ma in registry for probe in model_probes(model, ma)]


PROBES = all_probes()
MATRIX = readme_matrix()


def test_every_registered_model_has_a_row_in_the_readme():
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert registered == set(MATRIX), "add or remove rows in README's permission table"


def test_the_matrix_size_is_reported():
    """Printed in the test log: how many page-and-action probes each user makes."""
    print(f"\npermission matrix: {len(PROBES)} probes x 2 users = {2 * len(PROBES)} checks")
    assert len(PROBES) > 100


def expected_allowed(probe: Probe, who: str) -> bool:
    model = apps.get_model(probe.label)
    model_admin = admin.site._registry[model]
    probes = model_probes(model, model_admin)
    pages = {p.name for p in probes if not p.name.startswith("action:")}
    actions = {p.name.removeprefix("action:") for p in probes if p.name.startswith("action:")}
    sales, superuser = MATRIX[probe.label]
    return probe.name in allowed_by(sales if who == "sales" else superuser, pages, actions)


# --- One of everything ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_private_storage(tmp_path_factory):
    """Private storage in a folder of this module's own: the files compared are the ones the
    site's requests here could touch, not those of a worker or server another test file left
    finishing its work (CI saw the shared folder change under a refused GET)."""
    location = tmp_path_factory.mktemp("private")
    private = {**settings.STORAGES["private"]}
    private["OPTIONS"] = {**private.get("OPTIONS", {}), "location": str(location)}
    with override_settings(STORAGES={**settings.STORAGES, "private": private}):
        yield location


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, own_private_storage):
    """One object of every registered model (and what their pages need), created once for
    the module; each test runs in a savepoint inside it and is rolled back. The session's
    worker (if an earlier test file started it) is left with nothing to do first: a task of
    that file finishing now would change the rows and files this test compares."""
    if WorkerProcess.shared is not None:
        WorkerProcess.shared.quiesce()
    with django_db_blocker.unblock(), transaction.atomic():
        yield _world()
        transaction.set_rollback(True)


def _world() -> dict:
    sales = UserFactory(username="sasha")
    sales.groups.add(sales_group_sync())
    root = UserFactory(username="root", is_superuser=True)
    report = LicenceFactory(kind="enterprise", price=Decimal("7900")).report
    LicenceFactory(report=report, kind="single")
    RegionFactory(report=report)
    contact = ContactFactory(email="maria@clinsite.example", name="Maria Lopez")
    enquiry = EnquiryFactory(report=report, contact=contact)
    enquiry_services.enquiry_update(enquiry=enquiry, actor=root, status="waiting", owner=sales)
    reply = enquiry_services.enquiry_reply_send(
        enquiry=enquiry,
        author=sales,
        subject="Your price",
        body="Dear Maria,",
        licence=report.licences.get(kind="enterprise"),
        quoted_price=Decimal("6500"),
    )
    sample_request = SampleRequestFactory(report=report, contact=contact)
    followup_steps_default_create()
    FollowUp.objects.create(
        sample_request=sample_request, contact=contact, started_at=sample_request.created_at
    )
    order, _url = fulfilled_order(report, email=contact.email)
    Order.objects.filter(pk=order.pk).update(stripe_payment_intent_id="")
    email = email_queue(
        to=contact.email, template="tests/email/test_message", context={}, contact=contact
    )
    StripeEvent.objects.create(stripe_id="evt_1", type="charge.refunded", order=order, payload={})
    for document in documents.report_documents_rerender(report=report):
        path = storages["private"].save(f"tests/base-{document.pk}.pdf", ContentFile(tiny_pdf()))
        ReportDocument.objects.filter(pk=document.pk).update(status="ready", file_path=path)
    ReportEdition.objects.create(
        report=report, edition_date=report.edition_date, upgrade_discount_percent=30
    )
    TOTPDevice.objects.create(user=root, name="phone", confirmed=True)
    AccessAttempt.objects.create(username="x", ip_address="192.0.2.1", failures_since_start=1)
    AccessLog.objects.create(username="x", ip_address="192.0.2.1")
    AccessFailureLog.objects.create(username="x", ip_address="192.0.2.1", locked_out=False)
    ReplyTemplate.objects.get_or_create(name="Price quote", defaults={"subject": "s", "body": "b"})
    QualityAcknowledgement.objects.create(
        report=report, code="x", message="m", fingerprint="f" * 64, note="n", acknowledged_by=root
    )
    Job.objects.update_or_create(
        kind="mail.send", target_id=email.pk, defaults={"state": Job.State.FAILED}
    )
    attachment = storages["private"].save("inbound/tests/po.pdf", ContentFile(tiny_pdf()))
    InboundEmail.objects.create(
        message_id="<unmatched@clinsite.example>",
        status=InboundEmail.Status.UNMATCHED,
        from_address=contact.email,
        subject="Re: Your price",
        body_text="Which licence covers two sites?",
        attachments=[
            {"name": "po.pdf", "content_type": "application/pdf", "size": 1, "path": attachment}
        ],
    )
    assert Region.objects.exists() and OutboundEmail.objects.exists()
    return {
        "users": {"sales": sales, "superuser": root},
        "reply": reply,
        "report": report,
        "history": Enquiry.history.filter(id=enquiry.pk).first(),
    }


def url_for(probe: Probe, world) -> str:
    """The probe's URL with its arguments filled from `world`; an argument this test
    doesn't know fails loudly (a new kind of page needs a line here)."""
    model = apps.get_model(probe.label)
    pattern = next(
        p
        for p in admin.site._registry[model].get_urls()
        if getattr(p, "name", "") == probe.url_name
    )
    first = model._default_manager.order_by("pk").first()
    values = {
        "object_id": first.pk if first else 0,
        "pk": first.pk if first else 0,
        "id": first.pk if first else 0,
        "reply_id": world["reply"].pk,
        "report_id": world["report"].pk,
        "version_id": world["history"].history_id,
        "fingerprint": "f" * 64,
        "kind": ReportDocument.Kind.SAMPLE,
        "index": 0,
    }
    names = list(getattr(pattern.pattern, "converters", {})) or list(
        pattern.pattern.regex.groupindex
    )
    if pattern.pattern.regex.groups and not names:
        assert probe.url_name in POSITIONAL, f"{probe.url_name}: unnamed URL arguments"
        return reverse(
            f"admin:{probe.url_name}", args=[values[n] for n in POSITIONAL[probe.url_name]]
        )
    kwargs = {}
    for name in names:
        assert name in values, f"{probe.url_name}: no value for URL argument {name!r}"
        kwargs[name] = values[name]
    return reverse(f"admin:{probe.url_name}", kwargs=kwargs)


def post_data(probe: Probe) -> dict:
    if not probe.name.startswith("action:"):
        return {"post": "yes"} if probe.name == "delete" else {}
    model = apps.get_model(probe.label)
    first = model._default_manager.order_by("pk").first()
    return {
        "action": probe.name.removeprefix("action:"),
        "_selected_action": [first.pk],
        "index": "0",
        "post": "yes",  # delete_selected's confirmation
        "confirm": "yes",  # erasure's confirmation
    }


def database_state() -> dict[str, str]:
    """A digest of every model's rows (sessions aside) and of private storage, by name, so a
    difference says where it is."""
    state = {}
    for model in sorted(apps.get_models(), key=lambda m: m._meta.label):
        if model is Session:
            continue
        digest = hashlib.sha256()
        for row in model._default_manager.order_by("pk").values_list():
            digest.update(repr(row).encode())
        state[model._meta.label] = digest.hexdigest()[:16]
    files = hashlib.sha256()
    for folder, _dirs, names in sorted(os.walk(storages["private"].location)):
        files.update(f"{folder}:{sorted(names)}".encode())
    state["private storage"] = files.hexdigest()[:16]
    return state


@pytest.mark.parametrize("who", ["sales", "superuser"])
@pytest.mark.parametrize("probe", PROBES, ids=lambda p: f"{p.label}:{p.name}")
def test_admin_answers_as_the_readme_says(world, db, client, who, probe):
    client.force_login(world["users"][who])
    url = url_for(probe, world)
    before = database_state()
    get = probe.method == "GET"
    response = client.get(url) if get else client.post(url, post_data(probe))
    allowed = expected_allowed(probe, who)
    assert response.status_code < 500, f"{who} {probe.method} {url}: {response.status_code}"
    if allowed:
        assert response.status_code != 403, f"{who} was refused {probe.method} {url}"
    else:
        assert response.status_code == 403, (
            f"{who} {probe.method} {url} answered {response.status_code}, README says 403"
        )
        assert database_state() == before, f"{who}'s refused {probe.method} {url} changed data"
