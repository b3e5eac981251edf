"""Only the Bootstrap CSS the site's pages use (`manage.py build_css`, `make css`).

Bootstrap's full stylesheet is about 230 KiB, and a page uses a small part of it. The build
reads Bootstrap's own bootstrap.css (django-bootstrap-static, the version uv.lock pins) and
keeps a rule's selector only when every class and attribute it names occurs as a word in the
sources that write the pages' markup: our templates, the crispy-bootstrap5 templates our
forms render (CRISPY_TEMPLATES) and the Python that sets attributes on form widgets. Words are over-counted on purpose (any
word in a template counts, used as a class or not): a kept rule too many costs bytes, a rule
wrongly dropped breaks a page. Classes a template builds from a variable
(`alert-{{ message.tags }}`) are listed in SAFELIST. Element selectors, `:root` and the
keyframes kept rules name stay. The site's own static/css/site.css (the source we edit)
follows, every rule of it kept, and the whole is minified into one file, the only
stylesheet pages link: one request, nothing else render-blocking. Custom property names
(`--bs-btn-hover-border-color`, read nowhere but in this file) get short ones: they were
half the bytes. The output is committed (static/css/bundle.css), so the site serves and
tests the same file everywhere with no build at run time; a test rebuilds it and fails when
it differs (a template gained a class, site.css was edited: `make css`)."""

import re
from collections import Counter
from collections.abc import Iterable
from itertools import count, product
from pathlib import Path
from string import ascii_lowercase

import tinycss2
from django.conf import settings

WORD = re.compile(r"[A-Za-z0-9_-]+")
CLASS = re.compile(r"\.(-?[_A-Za-z][_A-Za-z0-9-]*)")
ATTRIBUTE = re.compile(r"\[\s*([_A-Za-z][_A-Za-z0-9-]*)")
# Classes templates build from a value: Django's message levels as alerts.
SAFELIST = frozenset(
    {"alert-debug", "alert-info", "alert-success", "alert-warning", "alert-danger", "alert-error"}
)


# The crispy-bootstrap5 templates the site's forms render (fields with `as_crispy_field`, the
# enquiry form's Row/Column/Div/Submit layout); not its accordions, modals, tabs or formsets.
CRISPY_TEMPLATES = (
    "field.html",
    "errors.html",
    "display_form.html",
    "uni_form.html",
    "whole_uni_form.html",
    "inputs.html",
    "layout/attrs.html",
    "layout/baseinput.html",
    "layout/column.html",
    "layout/div.html",
    "layout/row.html",
    "layout/field_errors.html",
    "layout/field_errors_block.html",
    "layout/help_text.html",
    "layout/help_text_and_errors.html",
    "layout/radio_checkbox_select.html",
)


NOT_PAGES = {"admin", "email", "pdf"}
# Selectors that can only match a file input (its button): kept only if a page's form has one.
FILE_INPUT_ONLY = ("::file-selector-button", "::-webkit-file-upload-button", "[type=file]")
FILE_INPUT = re.compile(r"""type=["']?file|FileField|FileInput""")
# Elements only a template writes (Django's widgets, crispy's layouts and our Python write
# none of them, and text from the database is escaped): their rules (`kbd`, `abbr[title]`,
# `sub`) stay only if a source has the tag.
TEMPLATE_ONLY_ELEMENTS = frozenset(
    "abbr address blockquote caption code dd dl dt figcaption figure hr iframe kbd mark output"
    " pre progress samp sub summary sup table tbody td tfoot th thead tr".split()
)
ELEMENT = re.compile(r"(?<![\w.#:\[=-])([a-z][a-z0-9]*)(?![\w-])")
TAG = re.compile(r"<([a-z][a-z0-9]*)")


def sources() -> list[Path]:
    """The files whose words say which classes the pages may use."""
    import crispy_bootstrap5

    base = Path(settings.BASE_DIR)
    crispy = Path(crispy_bootstrap5.__file__).parent / "templates"
    apps = [p for p in base.iterdir() if (p / "apps.py").exists()] + [base / "smosite"]
    found = [*sorted((base / "templates").rglob("*.html"))]
    for app in sorted(apps):
        found += sorted(app.glob("forms.py")) + sorted(app.glob("forms/*.py"))
        found += sorted(app.rglob("templates/**/*.html"))
    # Not pages: the admin (its own CSS), emails (their own, inlined) and PDFs (static/pdf).
    found = [p for p in found if not NOT_PAGES & set(p.relative_to(base).parts)]
    found += [crispy / "bootstrap5" / name for name in CRISPY_TEMPLATES]
    return found + [base / "common" / "antispam.py"]


def used_words(paths: Iterable[Path]) -> set[str]:
    """Every word of the sources, every tag as `<tag`, and `::file-input` when one has a file
    input."""
    words = set(SAFELIST)
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        words.update(WORD.findall(text))
        words.update(f"<{tag}" for tag in TAG.findall(text))
        if FILE_INPUT.search(text):
            words.add("::file-input")
    return words


def bootstrap_source() -> str:
    import bootstrap  # django-bootstrap-static

    path = Path(bootstrap.__file__).parent / "static" / "bootstrap" / "css" / "bootstrap.css"
    return path.read_text(encoding="utf-8")


def lean(css: str, words: set[str], *, also_reading: str = "") -> str:
    """`css` without the selectors that name a class or attribute not in `words`, without
    rules left with no selector, without custom properties (`--bs-…`) that neither what is
    kept nor `also_reading` (the site's own CSS, templates' style attributes) reads, and
    minified (comments and blank space out)."""
    rules = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    kept = _unread_properties_dropped(_rules(rules, words), also_reading)
    keyframes = {name for name in re.findall(r"animation(?:-name)?:\s*[^;}]*", kept)}
    out = []
    for piece in _keyframes(rules):
        name, text = piece
        if any(name in found for found in keyframes):
            out.append(text)
    return kept + "".join(out)


def _rules(rules, words: set[str] | None) -> str:
    """The rules whose selectors `words` allow (all of them when `words` is None), minified."""
    out = []
    for rule in rules:
        if rule.type == "qualified-rule":
            selectors = [s for s in _selectors(rule.prelude) if _uses_only(s, words)]
            if selectors:
                out.append(",".join(map(selector_text, selectors)))
                out.append("{" + _minified(rule.content) + "}")
        elif rule.type == "at-rule" and rule.lower_at_keyword in ("media", "supports"):
            inner = _rules(
                tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True),
                words,
            )
            if inner:
                prelude = " ".join(tinycss2.serialize(rule.prelude).split())
                out.append(f"@{rule.at_keyword} {prelude}{{{inner}}}")
        elif rule.type == "at-rule" and rule.lower_at_keyword in ("keyframes", "charset"):
            pass  # keyframes: added after the rules, only those kept rules name
        elif words is None:
            raise ValueError(f"site.css: @{rule.at_keyword} is not minified by smosite/leancss.py")
    return "".join(out)


def selector_text(selector: str) -> str:
    """A selector without the blanks around its combinators (`.a > .b` is `.a>.b`)."""
    if '"' in selector or "'" in selector:
        return selector
    return re.sub(r"\s*([>~+])\s*", r"\1", selector)


PROPERTY = re.compile(r"(?<=[{;])(--[A-Za-z0-9_-]+):[^;}]*;?")


def _unread_properties_dropped(css: str, also_reading: str) -> str:
    """Drop declarations of custom properties nothing reads with var(); again until none
    goes (a property may be read only by one dropped)."""
    while True:
        read = set(re.findall(r"var\(\s*(--[A-Za-z0-9_-]+)", css + also_reading))
        lean = PROPERTY.sub(lambda m, read=read: m.group(0) if m.group(1) in read else "", css)
        lean = lean.replace(";}", "}")
        if lean == css:
            return re.sub(r"(?<=[},])[^{}@]+\{\}", "", lean)
        css = lean


def _keyframes(rules) -> list[tuple[str, str]]:
    found = []
    for rule in rules:
        if rule.type == "at-rule" and rule.lower_at_keyword == "keyframes":
            name = tinycss2.serialize(rule.prelude).strip()
            body = tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True)
            steps = "".join(
                ",".join(part.strip() for part in tinycss2.serialize(step.prelude).split(","))
                + "{"
                + _minified(step.content)
                + "}"
                for step in body
                if step.type == "qualified-rule"
            )
            found.append((name, f"@keyframes {name}{{{steps}}}"))
    return found


def _selectors(prelude) -> list[str]:
    """A rule's selectors, split at the commas outside parentheses."""
    text = " ".join(tinycss2.serialize(prelude).split())
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return [p for p in parts if p]


def file_input_only(selector: str) -> bool:
    positive = re.sub(r":not\([^)]*\)", "", selector)
    return any(part in positive for part in FILE_INPUT_ONLY)


def _uses_only(selector: str, words: set[str] | None) -> bool:
    if words is None:  # the site's own CSS: every rule kept
        return True
    if "::file-input" not in words and file_input_only(selector):
        return False
    # Inside :not(…) a class the pages never use is "not there": the selector still applies.
    positive = re.sub(r":not\([^)]*\)", "", selector)
    names = CLASS.findall(positive) + ATTRIBUTE.findall(positive)
    tags = [f"<{e}" for e in ELEMENT.findall(positive) if e in TEMPLATE_ONLY_ELEMENTS]
    return all(name in words for name in names + tags)


def _minified(content) -> str:
    declarations = tinycss2.parse_blocks_contents(content, skip_comments=True, skip_whitespace=True)
    parts = []
    for item in declarations:
        if item.type == "declaration":
            value = _value(item.value)
            important = "!important" if item.important else ""
            parts.append(f"{item.name}:{value}{important}")
        elif item.type == "qualified-rule":  # nested rules (none in Bootstrap 5.3)
            parts.append(
                " ".join(tinycss2.serialize(item.prelude).split())
                + "{"
                + _minified(item.content)
                + "}"
            )
    return ";".join(parts)


LEADING_ZERO = re.compile(r"^(-?)0\.(?=\d)")


def _value(tokens) -> str:
    """A declaration's value with no blank the CSS syntax does not need: none around
    commas, one elsewhere (`calc(1em + 2px)` needs them), and no leading zero (`.5rem`);
    strings (data: URIs) as they are."""
    out: list[str] = []
    for token in tokens:
        if token.type in ("whitespace", "comment"):
            if out and out[-1] not in (" ", ","):
                out.append(" ")
            continue
        if token.type in ("number", "dimension", "percentage"):
            text = LEADING_ZERO.sub(r"\1.", tinycss2.serialize([token]))
        elif token.type == "function":
            text = f"{token.name}({_value(token.arguments)})"
        elif token.type == "() block":
            text = f"({_value(token.content)})"
        else:
            text = tinycss2.serialize([token])
        if text == "," and out and out[-1] == " ":
            out.pop()
        out.append(text)
    return "".join(out).strip()


# Not inside a name: `.card--wide` is a class.
CUSTOM_PROPERTY = re.compile(r"(?<![\w-])--[A-Za-z_][A-Za-z0-9_-]*")


def _short_names(css: str, keep: set[str]) -> str:
    """Every custom property renamed `--a`, `--b`, … `--aa`…, the most used first; those in
    `keep` (set or read by a template's style attribute) keep their names."""
    counts = Counter(CUSTOM_PROPERTY.findall(css))
    names = (f"--{''.join(t)}" for n in count(1) for t in product(ascii_lowercase, repeat=n))
    free = (name for name in names if name not in keep and name not in counts)
    short = {
        name: next(free)
        for name, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        if name not in keep
    }
    return CUSTOM_PROPERTY.sub(lambda m: short.get(m.group(0), m.group(0)), css)


def bundle(bootstrap_css: str, site_css: str, words: set[str], *, markup: str = "") -> str:
    """The one stylesheet: the lean Bootstrap, then every rule of the site's own CSS,
    minified, with short custom property names (but those `markup` names)."""
    lean_bootstrap = lean(bootstrap_css, words, also_reading=site_css + markup)
    site = tinycss2.parse_stylesheet(site_css, skip_comments=True, skip_whitespace=True)
    site_keyframes = "".join(text for _, text in _keyframes(site))
    css = lean_bootstrap + _rules(site, None) + site_keyframes
    return _short_names(css, keep=set(CUSTOM_PROPERTY.findall(markup)))


def build() -> str:
    paths = sources()
    markup = "".join(p.read_text(encoding="utf-8") for p in paths)
    return bundle(
        bootstrap_source(), SOURCE.read_text(encoding="utf-8"), used_words(paths), markup=markup
    )


SOURCE = Path(settings.BASE_DIR) / "static" / "css" / "site.css"
OUTPUT = Path(settings.BASE_DIR) / "static" / "css" / "bundle.css"
