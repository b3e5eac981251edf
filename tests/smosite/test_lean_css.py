"""Pages link only the Bootstrap CSS they use (static/css/bootstrap.lean.css, built by
`manage.py build_css` from Bootstrap's own source) and no script: the committed file is the
build's output for the templates as they are, and every Bootstrap class a rendered page
carries keeps its rules."""

import re

import pytest
import tinycss2
from django.urls import reverse

from smosite import leancss
from tests.reports.conftest import seed_report  # noqa: F401

pytestmark = pytest.mark.django_db
CLASS_ATTRIBUTE = re.compile(r'class="([^"]*)"')


def selectors(css: str) -> set[str]:
    """Every selector of every rule, in @media and @supports too."""
    found = set()

    def walk(rules):
        for rule in rules:
            if rule.type == "qualified-rule":
                found.update(leancss._selectors(rule.prelude))
            elif rule.type == "at-rule" and rule.content is not None:
                walk(tinycss2.parse_rule_list(rule.content, skip_whitespace=True))

    walk(tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True))
    return found


def classes_of(selector: str) -> set[str]:
    return set(leancss.CLASS.findall(re.sub(r":not\([^)]*\)", "", selector)))


def test_the_committed_lean_css_is_the_build_of_the_templates_as_they_are():
    """A template that gains a Bootstrap class fails this until `make css` is run."""
    assert leancss.OUTPUT.read_text(encoding="utf-8") == leancss.build()


def test_the_lean_css_parses_and_is_a_fifth_of_bootstrap():
    lean = leancss.OUTPUT.read_text(encoding="utf-8")
    rules = tinycss2.parse_stylesheet(lean, skip_comments=True, skip_whitespace=True)
    assert not [r for r in rules if r.type == "error"]
    assert len(lean.encode()) < len(leancss.bootstrap_source().encode()) / 5
    # What no page uses is gone: the dark theme, modals, offcanvas, carousels, toasts.
    for absent in ("data-bs-theme", ".modal", ".offcanvas", ".carousel", ".toast"):
        assert absent not in lean, absent


def test_the_purge_keeps_used_rules_and_drops_unused_ones():
    css = (
        ".btn{color:red}.btn-unused{color:blue}.a .b{x:1}@media (min-width:1px){.btn{y:2}"
        ".gone{z:3}}:root{--bs-read:1;--bs-unread:2}.c{color:var(--bs-read)}"
        ".spin{animation:spin 1s}@keyframes spin{to{transform:rotate(1turn)}}"
        "@keyframes never{to{opacity:0}}[data-bs-theme=dark]{color:black}p:not(.zz){m:0}"
    )
    lean = leancss.lean(css, {"btn", "a", "b", "c", "spin"})
    assert ".btn{color:red}" in lean and ".a .b{x:1}" in lean
    assert "@media (min-width:1px){.btn{y:2}}" in lean
    assert "btn-unused" not in lean and ".gone" not in lean
    assert "--bs-read:1" in lean and "--bs-unread" not in lean
    assert "@keyframes spin" in lean and "never" not in lean
    assert "data-bs-theme" not in lean
    assert "p:not(.zz){m:0}" in lean  # an absent class inside :not() still matches


def public_pages(client, report) -> dict[str, str]:
    pages = {
        "catalogue": "/",
        "search": "/?q=oncology",
        "report": report.get_absolute_url(),
        "sample form": reverse("enquiries:request-sample", args=[report.number]),
        "enquiry form": reverse("enquiries:pre-order-enquiry", args=[report.number]),
        "purchase": reverse("orders:purchase", args=[report.number]),
    }
    html = {}
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        html[name] = response.content.decode()
    # Forms with their errors shown (another set of classes).
    for name in ("sample form", "enquiry form", "purchase"):
        response = client.post(pages[name], {})
        assert response.status_code in (200, 400), name
        html[f"{name} with errors"] = response.content.decode()
    return html


def test_every_bootstrap_rule_a_page_can_match_is_kept(client, seed_report):  # noqa: F811
    """A Bootstrap selector whose classes a rendered page all carries is in the lean CSS."""
    full = {s: classes_of(s) for s in selectors(leancss.bootstrap_source())}
    lean = selectors(leancss.OUTPUT.read_text(encoding="utf-8"))
    for name, html in public_pages(client, seed_report).items():
        used = {c for value in CLASS_ATTRIBUTE.findall(html) for c in value.split()}
        attributes = set(re.findall(r"<[a-z0-9]+|\s([a-z][a-z0-9-]*)(?==|\s|/?>)", html)) - {""}
        missing = {
            s
            for s, names in full.items()
            if names
            and names <= used
            and set(leancss.ATTRIBUTE.findall(re.sub(r":not\([^)]*\)", "", s))) <= attributes
            and s not in lean
        }
        assert not missing, (name, sorted(missing))
        assert "bootstrap.min.css" not in html and "css/bootstrap.lean.css" in html
        # No page needs a script: only structured data (JSON-LD, not run) is in script tags.
        scripts = re.findall(r"<script([^>]*)>", html)
        assert all('type="application/ld+json"' in attrs for attrs in scripts), (name, scripts)
