"""Writing checked lines in batches: a batch is read with a few queries, merged with what
the database holds, put through the publishing gate and written with bulk statements in one
transaction. Memory holds one batch, whatever the file's size.

A re-import of a report updates it in place, section by section (each report field, the
category, each kind of part): a section staff changed since the last import wrote it is
kept, and the line says so; with `overwrite` the file wins everywhere. Reports never
imported before (made in admin, or loaded before imports tracked what they wrote) count as
edited by staff throughout, so an import never silently replaces staff's work."""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Prefetch
from django.utils import timezone

from ...models import (
    Category,
    QualityAcknowledgement,
    Region,
    Report,
)
from ...search.text import vocabulary_words
from ...signals import report_published
from ..publishing import finding_fingerprint, gate_apply, publication_blockers
from ..quality import Finding, ReportParts
from ..search_index import (
    catalogue_changed,
    key_player_names,
    search_details,
    search_terms_add,
)
from .bulk import parts_replace, reports_insert
from .readers import Record
from .results import ImportSummary, LineResult, PresetAcknowledgement
from .schema import (
    PART_SECTIONS,
    SECTIONS,
    LineInvalid,
    ReportState,
    parse_line,
    section_hash,
)

logger = logging.getLogger(__name__)

RELATED_NAMES = {
    "dynamics": "dynamics",
    "key_players": "key_players",
    "segments": "segments",
    "regions": "regions",
    "toc": "toc_entries",
    "faqs": "faqs",
    "licences": "licences",
}


@dataclass
class _Plan:
    """What one line does to its report."""

    result: LineResult
    state: ReportState  # the report as it will be (merged with the database)
    report: Report
    is_new: bool
    sections: set[str]  # sections written from the line
    fields: set[str]  # report columns to update (existing reports)
    acknowledgements: list[QualityAcknowledgement]
    became_published: bool = False
    agreed: set[str] = field(default_factory=set)  # sections the line and database agree on
    original: dict = field(default_factory=dict)  # the report's columns before the import


class ReportImporter:
    """Feed it records; it writes (or, in a dry run, only checks) them batch by batch and
    hands each line's result to `on_result` as soon as its batch is done."""

    def __init__(
        self,
        *,
        dry_run: bool = False,
        overwrite: bool = False,
        batch_size: int = 500,
        acknowledgements: Iterable[PresetAcknowledgement] = (),
        on_result: Callable[[LineResult], None] | None = None,
    ):
        self.dry_run, self.overwrite, self.batch_size = dry_run, overwrite, batch_size
        self.presets: dict[int, list[PresetAcknowledgement]] = {}
        for preset in acknowledgements:
            self.presets.setdefault(preset.number, []).append(preset)
        self.on_result = on_result or (lambda result: None)
        self.summary = ImportSummary(dry_run=dry_run)
        self.pending: list[Record] = []
        self.lines_of: dict[int, int] = {}  # report number -> first line, across the file
        self.categories: dict[str, Category] = {}
        self.known_terms: set[str] = set()

    def feed(self, record: Record) -> None:
        self.pending.append(record)
        if len(self.pending) >= self.batch_size:
            self.flush()

    def finish(self) -> ImportSummary:
        self.flush()
        return self.summary

    def flush(self) -> None:
        records, self.pending = self.pending, []
        if not records:
            return
        results = self._batch(records)
        for result in sorted(results, key=lambda r: r.line):
            self.summary.count(result)
            self.on_result(result)

    # --- One batch ------------------------------------------------------------------------

    def _batch(self, records: list[Record]) -> list[LineResult]:
        results, states = [], []
        for record in records:
            result, state = self._parse(record)
            results.append(result)
            if state is not None:
                states.append((result, state))
        if not states:
            return results
        plans = self._plans(states)
        if not self.dry_run:
            self._write(plans)
        return results

    def _parse(self, record: Record) -> tuple[LineResult, ReportState | None]:
        result = LineResult(line=record.line)
        if record.error:
            result.errors.append((record.field or "line", record.error))
            return result, None
        try:
            state = parse_line(record.data)
        except LineInvalid as exc:
            result.errors.extend(exc.errors)
            number = (record.data.get("report") or {}) if isinstance(record.data, dict) else {}
            result.number = number.get("number") if isinstance(number, dict) else None
            return result, None
        result.number = state.number
        first = self.lines_of.setdefault(state.number, record.line)
        if first != record.line:
            result.errors.append(
                ("report.number", f"report {state.number} is also on line {first}")
            )
            return result, None
        return result, state

    def _plans(self, states: list[tuple[LineResult, ReportState]]) -> list[_Plan]:
        existing = self._existing([state.number for _, state in states])
        self._categories_resolve([state for _, state in states])
        acknowledged = self._acknowledged([report.pk for report in existing.values()])
        plans = []
        for result, state in states:
            current = existing.get(state.number)
            if current is None:
                plan = self._plan_new(result, state)
            else:
                plan = self._plan_existing(result, state, current)
            self._gate(plan, acknowledged.get(plan.report.pk, set()))
            plans.append(plan)
        return plans

    # --- Reading what exists --------------------------------------------------------------

    def _existing(self, numbers: list[int]) -> dict[int, Report]:
        reports = (
            Report.objects.filter(number__in=numbers)
            .select_related("category")
            .prefetch_related(
                *(RELATED_NAMES[s] for s in PART_SECTIONS if s != "regions"),
                Prefetch("regions", queryset=Region.objects.prefetch_related("countries")),
            )
        )
        return {report.number: report for report in reports}

    def _acknowledged(self, report_ids: list[int]) -> dict[int, set[str]]:
        found: dict[int, set[str]] = {}
        rows = QualityAcknowledgement.objects.filter(report_id__in=report_ids).values_list(
            "report_id", "fingerprint"
        )
        for report_id, fingerprint in rows:
            found.setdefault(report_id, set()).add(fingerprint)
        return found

    def _categories_resolve(self, states: list[ReportState]) -> None:
        """One Category per slug: looked up once per import, created (outside a dry run)
        when new. A name already used under another slug is that category."""
        wanted = {s.category_slug: s.category_name for s in states}
        missing = [slug for slug in wanted if slug not in self.categories]
        for category in Category.objects.filter(slug__in=missing):
            self.categories[category.slug] = category
        for slug in missing:
            if slug in self.categories:
                continue
            category = Category.objects.filter(name=wanted[slug]).first()
            if category is None:
                category = Category(name=wanted[slug], slug=slug)
                if not self.dry_run:
                    category.full_clean()
                    category.save()
            self.categories[slug] = category
        for state in states:
            state.report.category = self.categories[state.category_slug]

    @staticmethod
    def _state_of(report: Report) -> ReportState:
        return ReportState(
            report=report,
            category_name=report.category.name,
            category_slug=report.category.slug,
            dynamics=list(report.dynamics.all()),
            key_players=list(report.key_players.all()),
            segments=list(report.segments.all()),
            regions=[
                (region, [row.country.code for row in region.countries.all()])
                for region in report.regions.all()
            ],
            toc=list(report.toc_entries.all()),
            faqs=list(report.faqs.all()),
            licences=list(report.licences.all()),
        )

    # --- Planning -------------------------------------------------------------------------

    def _plan_new(self, result: LineResult, state: ReportState) -> _Plan:
        report = state.report
        report.key_player_names = key_player_names(p.name for p in state.key_players)
        report.search_details = _details(state)
        result.outcome = "created"
        result.notes.extend(f"corrected: {note}" for note in state.notes)
        return _Plan(
            result=result,
            state=state,
            report=report,
            is_new=True,
            sections=set(SECTIONS),
            fields=set(),
            acknowledgements=[],
            became_published=report.status == Report.Status.PUBLISHED,
        )

    def _plan_existing(self, result: LineResult, state: ReportState, report: Report) -> _Plan:
        current = self._state_of(report)
        baseline = report.import_baseline or {}
        take, kept, agreed = set(), [], set()
        for section in sorted(state.present, key=SECTIONS.index):
            incoming = section_hash(state, section)
            if incoming == section_hash(current, section):
                agreed.add(section)
                continue
            if self.overwrite or baseline.get(section) == section_hash(current, section):
                take.add(section)
            else:
                kept.append(section)
        if self.overwrite:
            take |= state.present  # "rewrite from the file": parts are written again too
        was_published = report.status == Report.Status.PUBLISHED
        original = _columns(report)
        merged = self._merge(current, state, take)
        if kept:
            result.notes.append("kept staff edits in: " + ", ".join(kept))
        if "regions" in take:
            result.notes.extend(f"corrected: {note}" for note in state.notes)
        return _Plan(
            result=result,
            state=merged,
            report=report,
            is_new=False,
            sections={section for section in take if section in PART_SECTIONS}
            | ({"category"} & take),
            fields=set(),
            acknowledgements=[],
            became_published=not was_published,
            agreed=agreed,
            original=original,
        )

    @staticmethod
    def _merge(current: ReportState, state: ReportState, take: set[str]) -> ReportState:
        report = current.report
        for section in take:
            if section.startswith("report."):
                name = section.removeprefix("report.")
                setattr(report, name, getattr(state.report, name))
            elif section == "category":
                report.category = state.report.category
                current.category_name, current.category_slug = (
                    state.category_name,
                    state.category_slug,
                )
            else:
                setattr(current, section, getattr(state, section))
        if "key_players" in take:
            report.key_player_names = key_player_names(p.name for p in current.key_players)
        if {"segments", "regions", "faqs"} & take:
            report.search_details = _details(current)
        return current

    def _gate(self, plan: _Plan, acknowledged: set[str]) -> None:
        """The publishing gate on the report as it will be; preset acknowledgements first."""
        state, report = plan.state, plan.report
        parts = ReportParts(
            report=report,
            dynamics=state.dynamics,
            faqs=state.faqs,
            regions=state.regions,
            licences=state.licences,
        )
        blockers = publication_blockers(parts=parts, acknowledged=acknowledged)
        for finding in blockers:
            ack = self._preset_for(report.number, finding)
            if ack is not None:
                plan.acknowledgements.append(ack)
                acknowledged = acknowledged | {ack.fingerprint}
        if plan.acknowledgements:
            blockers = publication_blockers(parts=parts, acknowledged=acknowledged)
        outcome = gate_apply(report=report, blockers=blockers)
        if outcome.held_back:
            plan.result.held_back = True
            plan.result.notes.append("held as a draft: " + outcome.describe())
        if not plan.is_new:
            now = _columns(report)
            plan.fields = {name for name, value in now.items() if plan.original[name] != value}
        plan.became_published = plan.became_published and report.status == "published"
        if not plan.is_new:
            changed = plan.sections or plan.fields - {"quality_open_errors"}
            plan.result.outcome = "updated" if changed else "unchanged"
        self._baseline(plan)

    def _preset_for(self, number: int, finding: Finding) -> QualityAcknowledgement | None:
        for preset in self.presets.get(number, []):
            if preset.code == finding.code and preset.contains in finding.message:
                return QualityAcknowledgement(
                    code=finding.code,
                    message=finding.message,
                    fingerprint=finding_fingerprint(finding),
                    note=preset.note,
                    acknowledged_by_name=preset.by_name,
                )
        return None

    def _baseline(self, plan: _Plan) -> None:
        """Remember what the import wrote, per section; sections kept for staff keep their
        old entry, so their edit is still recognised next time."""
        report = plan.report
        baseline = dict(report.import_baseline or {})
        written = plan.sections | plan.agreed | {f"report.{name}" for name in plan.fields}
        if "category_id" in plan.fields:
            written.add("category")
        for section in written:
            if section in SECTIONS:
                baseline[section] = section_hash(plan.state, section)
        if baseline != report.import_baseline:
            report.import_baseline = baseline
            plan.fields.add("import_baseline")

    # --- Writing --------------------------------------------------------------------------

    def _write(self, plans: list[_Plan]) -> None:
        try:
            with transaction.atomic():
                self._write_plans(plans)
        except (DatabaseError, IntegrityError):
            logger.warning("import batch failed; writing its lines one by one", exc_info=True)
            for plan in plans:
                try:
                    with transaction.atomic():
                        self._write_plans([plan])
                except (DatabaseError, IntegrityError) as exc:
                    plan.result.outcome = "failed"
                    plan.result.held_back = False
                    plan.result.errors.append(("database", str(exc).strip().splitlines()[0]))

    def _write_plans(self, plans: list[_Plan]) -> None:
        now = timezone.now()
        for plan in plans:  # after a failed attempt, pks from its rolled-back inserts
            if plan.is_new:
                plan.report.pk = None
                plan.report._state.adding = True
        reports_insert([plan.report for plan in plans if plan.is_new], now=now)
        changed = [plan for plan in plans if not plan.is_new and plan.fields]
        for plan in changed:
            plan.report.updated_at = now
        columns = sorted({name for plan in changed for name in plan.fields} | {"updated_at"})
        if changed:
            Report.objects.bulk_update([plan.report for plan in changed], columns, batch_size=500)
        self._write_parts(plans)
        acknowledgements = []
        for plan in plans:
            for ack in plan.acknowledgements:
                ack.pk, ack.report = None, plan.report
                acknowledgements.append(ack)
            plan.result.report = plan.report
        QualityAcknowledgement.objects.bulk_create(acknowledgements, ignore_conflicts=True)
        self._vocabulary(plans)
        self._notify_published(plans)
        catalogue_changed()

    @staticmethod
    def _write_parts(plans: list[_Plan]) -> None:
        """Each rewritten kind of part: the old rows out, the line's in."""
        for section in PART_SECTIONS:
            owners = [
                (plan.report, plan.is_new, getattr(plan.state, section))
                for plan in plans
                if section in plan.sections
            ]
            if owners:
                parts_replace(section, owners)

    def _vocabulary(self, plans: list[_Plan]) -> None:
        words = set()
        for plan in plans:
            report = plan.report
            words |= vocabulary_words(
                report.title,
                report.market_name,
                report.key_player_names,
                *(segment.name for segment in plan.state.segments),
                *(region.name for region, _codes in plan.state.regions),
            )
        new = words - self.known_terms
        search_terms_add(words=new)
        self.known_terms |= new

    @staticmethod
    def _notify_published(plans: list[_Plan]) -> None:
        """Reports that existed before and became published: `report_published` tells the
        apps that listen (enquirers of an upcoming report hear about it)."""
        published = [p.report for p in plans if p.became_published and not p.is_new]
        if published:
            report_published.send(sender=Report, reports=published)


def _details(state: ReportState) -> str:
    """The report's search details from its parts as the line (or database) gives them."""
    return search_details(
        segments=(segment.name for segment in state.segments),
        regions=(region.name for region, _codes in state.regions),
        questions=((faq.question, faq.answer) for faq in state.faqs),
    )


def _columns(report: Report) -> dict:
    """The report's own column values (attnames), to tell what an import changed."""
    return {
        f.attname: getattr(report, f.attname)
        for f in Report._meta.concrete_fields
        if not f.primary_key and f.attname not in ("created_at", "updated_at", "import_baseline")
    }


def reports_import(*, records: Iterable[Record], **options) -> ImportSummary:
    """Import every record (see ReportImporter for the options)."""
    importer = ReportImporter(**options)
    for record in records:
        importer.feed(record)
    return importer.finish()
