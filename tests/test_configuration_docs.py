"""README's configuration table, the settings and .env.example describe the same variables."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV_READ = re.compile(r'env(?:\.[a-z_]+|\(\))\(\s*"([A-Z][A-Z0-9_]+)"|Env\(\)\.str\("([A-Z_]+)"')


def _readme_variables() -> set[str]:
    text = (ROOT / "README.md").read_text()
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", text, flags=re.MULTILINE))


def _settings_variables() -> set[str]:
    names = set()
    for path in (ROOT / "smosite" / "settings").glob("*.py"):
        for match in ENV_READ.finditer(path.read_text()):
            names.add(match.group(1) or match.group(2))
    return names - {"DJANGO_SETTINGS_MODULE"}


def test_every_variable_the_settings_read_is_in_the_readme_table_and_vice_versa():
    assert _settings_variables() == _readme_variables()


def test_env_example_lists_every_variable_commented_out():
    """An empty `NAME=` line in .env is a value, not the default (an empty CACHE_URL stops
    the site), so copying the example must change nothing."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    assert not [line for line in lines if line and not line.startswith("#")]
    listed = {m.group(1) for line in lines if (m := re.match(r"# ([A-Z][A-Z0-9_]+)=", line))}
    assert listed == _readme_variables()
