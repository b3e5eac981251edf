"""Pages link one stylesheet, static/css/bundle.css (built by `manage.py build_css` from
Bootstrap's own source, only the rules the templates can use, and the site's own site.css,
minified), and no script: the committed file is the build's output for the templates and
site.css as they are, every Bootstrap class a rendered page carries keeps its rules, and a
page's CSS stays within the budget."""

import re

import pytest
import tinycss2
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse

from smosite import leancss
from tests.reports.conftest import seed_report  # noqa: F401

pytestmark = pytest.mark.django_db
CLASS_ATTRIBUTE = re.compile(r'class="([^"]*)"')
STYLESHEET = re.compile(r'<link rel="stylesheet" href="([^"]+)"')
# Issue 26: a page's CSS before compression (it was about 230 KiB with all of Bootstrap).
CSS_BUDGET_BYTES = 40 * 1024


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


def test_the_committed_bundle_is_the_build_of_the_templates_and_site_css_as_they_are():
    """A template that gains a Bootstrap class, or an edit to site.css, fails this until
    `make css` is run."""
    assert leancss.OUTPUT.read_text(encoding="utf-8") == leancss.build()


def linked_css_bytes(html: str) -> dict[str, int]:
    """The size of each stylesheet the page links, read from the static files it names."""
    sizes = {}
    for href in STYLESHEET.findall(html):
        found = finders.find(href.removeprefix(settings.STATIC_URL))
        assert found, href
        sizes[href] = len(open(found, "rb").read())  # noqa: SIM115, PTH123 - a test's read
    return sizes


def test_the_report_page_and_the_catalogue_link_one_stylesheet_within_the_budget(
    client,
    seed_report,  # noqa: F811
):
    for url in ("/", seed_report.get_absolute_url()):
        sizes = linked_css_bytes(client.get(url).content.decode())
        assert list(sizes) == [f"{settings.STATIC_URL}css/bundle.css"], (url, sizes)
        assert sum(sizes.values()) <= CSS_BUDGET_BYTES, (url, sizes)


def test_the_bundle_keeps_every_rule_of_site_css():
    source = leancss.SOURCE.read_text(encoding="utf-8")
    bundle = leancss.OUTPUT.read_text(encoding="utf-8")
    site_selectors = selectors(source)
    assert site_selectors and {leancss.selector_text(s) for s in site_selectors} <= selectors(
        bundle
    )


def test_the_minifier_drops_only_blanks_and_zeros_css_does_not_need():
    css = (
        ".a > .b ~ .c{margin:0.5rem -0.25em;width:calc(100% - 1.5em);"
        'color:rgba(13, 110, 253, 0.25);background:url("data:a b, 0.5")}'
    )
    rules = tinycss2.parse_stylesheet(css, skip_whitespace=True)
    assert leancss._rules(rules, None) == (
        ".a>.b~.c{margin:.5rem -.25em;width:calc(100% - 1.5em);"
        'color:rgba(13,110,253,.25);background:url("data:a b, 0.5")}'
    )


def test_custom_properties_get_short_names_but_those_markup_uses():
    css = ":root{--bs-long-name:1px;--bs-other:2px;--kept:3}.a--b{margin:var(--bs-long-name)}"
    short = leancss._short_names(css, keep={"--kept"})
    assert short == ":root{--a:1px;--b:2px;--kept:3}.a--b{margin:var(--a)}"  # a class stays


def test_file_input_rules_stay_only_when_a_form_has_a_file_input(tmp_path):
    css = ".form-control::file-selector-button{x:1}.form-control:not([type=file]){y:2}"
    without, with_file = tmp_path / "a.html", tmp_path / "b.html"
    without.write_text('<input class="form-control" type="text">')
    with_file.write_text('<input class="form-control" type="file">')
    assert leancss.lean(css, leancss.used_words([without])) == ".form-control:not([type=file]){y:2}"
    assert "file-selector-button" in leancss.lean(css, leancss.used_words([without, with_file]))


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


def test_rules_of_elements_only_templates_write_stay_only_if_one_does(tmp_path):
    css = "kbd{a:1}abbr[title]{b:2}.table>:not(caption)>*{c:3}p{d:4}"
    template = tmp_path / "t.html"
    template.write_text('<p>Press <kbd>Enter</kbd> in the table</p><div class="table"></div>')
    lean = leancss.lean(css, leancss.used_words([template]))
    assert lean == "kbd{a:1}.table>:not(caption)>*{c:3}p{d:4}"


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


def template_only_elements(selector: str) -> set[str]:
    positive = re.sub(r":not\([^)]*\)", "", selector)
    return set(leancss.ELEMENT.findall(positive)) & leancss.TEMPLATE_ONLY_ELEMENTS


def test_every_bootstrap_rule_a_page_can_match_is_kept(client, seed_report):  # noqa: F811
    """A Bootstrap selector whose classes, and elements only templates write, a rendered
    page all carries is in the lean CSS."""
    full = {s: classes_of(s) for s in selectors(leancss.bootstrap_source())}
    lean = selectors(leancss.OUTPUT.read_text(encoding="utf-8"))
    for name, html in public_pages(client, seed_report).items():
        used = {c for value in CLASS_ATTRIBUTE.findall(html) for c in value.split()}
        attributes = set(re.findall(r"<[a-z0-9]+|\s([a-z][a-z0-9-]*)(?==|\s|/?>)", html)) - {""}
        tags = set(leancss.TAG.findall(html))
        missing = {
            s
            for s, names in full.items()
            if (names or template_only_elements(s))
            and names <= used
            and template_only_elements(s) <= tags
            and set(leancss.ATTRIBUTE.findall(re.sub(r":not\([^)]*\)", "", s))) <= attributes
            and leancss.selector_text(s) not in lean
            and ('type="file"' in html or not leancss.file_input_only(s))
        }
        assert not missing, (name, sorted(missing))
        assert "bootstrap.min.css" not in html and "css/bundle.css" in html
        # No page needs a script: only structured data (JSON-LD, not run) is in script tags.
        scripts = re.findall(r"<script([^>]*)>", html)
        assert all('type="application/ld+json"' in attrs for attrs in scripts), (name, scripts)
