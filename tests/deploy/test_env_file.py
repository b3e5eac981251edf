"""The environment file (deploy/env.template, installed as /etc/smosite/env) is read the way
systemd reads it: by the units (EnvironmentFile=) and by `smosite`, the command that runs a
site command with the units' environment. Values with spaces, `<`, `&` arrive whole, which
`set -a; . /etc/smosite/env` in a shell never did."""

import os
import pwd
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from smosite.envfile import env_file_parse
from tests.support.deploy import DOMAIN, ROOT, installation

# systemd's own parser, as shipped in Debian's systemd package: the generator that reads
# ~/.config/environment.d/*.conf with the same function (parse_env_file_internal) as
# EnvironmentFile=. It also expands $VARIABLES, which EnvironmentFile= never does: the
# samples compared with it have no `$`.
GENERATOR = Path("/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator")
TRICKY = """\
# a comment; the next line is not
;another comment
PLAIN=value
SPACES=Reliable Research IQ <reports@example.com>
TRAILING=kept inside, dropped after   \t
  INDENTED  =  spaced key and value
AMPERSAND=s3://bucket/private?endpoint_url=http://127.0.0.1:9000&region=eu-west-1&x=1
HASH=abc#def ; not a comment
DOUBLE="quoted  \\"inner\\" \\\\ and \\q"
SINGLE='single \\n kept'
MIXED=part"quoted part"'single'
ESCAPED=a\\ b\\\\c
CONTINUED=first \\
second
EMPTY=
NO_EQUALS_SIGN
1INVALID=dropped
REPEATED=first
REPEATED=second
UNICODE=Zürich – 東京
LAST=no newline at the end"""


def systemd_reads(text: str, tmp_path: Path) -> dict[str, str]:
    """What systemd's parser makes of `text` (its output is shell-quoted)."""
    config = tmp_path / "xdg"
    (config / "environment.d").mkdir(parents=True)
    (config / "environment.d" / "50-smosite.conf").write_text(text)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = subprocess.run(
        [str(GENERATOR)],
        env={"XDG_CONFIG_HOME": str(config), "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    )
    found = {}
    for line in result.stdout.splitlines():
        (assignment,) = shlex.split(line)
        name, value = assignment.split("=", 1)
        found[name] = value
    return found


def alike(ours: dict[str, str], theirs: dict[str, str]) -> bool:
    """The same variables with the same values (the generator also prints what
    /etc/environment.d sets, and leaves out the empty ones)."""
    return ours == {name: theirs.get(name, "") for name in ours} and all(
        name in theirs for name, value in ours.items() if value
    )


def table_variables(path: Path) -> set[str]:
    """The variables a document's tables describe (the first cell of each row)."""
    cells = [line.split("|")[1] for line in path.read_text().splitlines() if line.startswith("| `")]
    return {name for cell in cells for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}


def test_the_parser_reads_what_systemds_own_parser_reads(tmp_path):
    assert os.access(GENERATOR, os.X_OK), f"{GENERATOR} is missing (Debian's systemd package)"
    ours = env_file_parse(TRICKY)
    theirs = systemd_reads(TRICKY, tmp_path)
    assert alike(ours, theirs)
    assert ours["SPACES"] == "Reliable Research IQ <reports@example.com>"
    assert ours["AMPERSAND"].endswith("&region=eu-west-1&x=1")
    assert ours["HASH"] == "abc#def ; not a comment"
    assert ours["TRAILING"] == "kept inside, dropped after"
    assert ours["INDENTED"] == "spaced key and value"
    assert ours["CONTINUED"] == "first second"
    assert ours["REPEATED"] == "second" and ours["EMPTY"] == ""
    assert "NO_EQUALS_SIGN" not in ours and "1INVALID" not in ours


def test_the_installed_env_file_reads_alike_with_systemd_and_keeps_whole_values(tmp_path):
    installed = installation(tmp_path / "root")
    text = installed.env_file.read_text()
    ours = env_file_parse(text)
    # No value with a `$`: the generator's expansion cannot differ from EnvironmentFile=.
    assert not [name for name, value in ours.items() if "$" in value]
    assert alike(ours, systemd_reads(text, tmp_path))
    assert ours["DEFAULT_FROM_EMAIL"] == f"Reliable Research IQ <reports@{DOMAIN}>"
    assert ours["SITE_URL"] == f"https://{DOMAIN}" and ours["DJANGO_ALLOWED_HOSTS"] == DOMAIN
    assert len(ours["DJANGO_SECRET_KEY"]) >= 50 and "@" not in ours["DJANGO_SECRET_KEY"]


def test_the_template_sets_only_documented_variables_and_leaves_the_settings_module_to_the_units():
    text = (ROOT / "deploy" / "env.template").read_text()
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    assert (
        named - table_variables(ROOT / "README.md") - table_variables(ROOT / "docs" / "deploy.md")
        == set()
    )
    assert not named & {"DJANGO_SETTINGS_MODULE", "SMOSITE_VAR_DIR"}
    # systemd 252 (Debian 12) continues a comment ending in a backslash on the next line;
    # 254 and later do not. No such line, so both read the file alike.
    assert not [line for line in text.splitlines() if line.startswith("#") and line.endswith("\\")]


def test_smosite_runs_a_command_as_the_service_user_with_exactly_the_units_environment(tmp_path):
    """`sudo smosite …` as the units run: the service user, a clean environment (nothing of
    the caller's but the DJANGO_SUPERUSER_* it passes on), the units' settings, the file's
    values whole. The file itself stays unreadable to that user."""
    installed = installation(tmp_path / "root", "--user", "nobody")
    with installed.env_file.open("a") as env_file:
        env_file.write("PRIVATE_STORAGE_URL=s3://b/private?endpoint_url=http://x:9000&region=r\n")
    caller = {**os.environ, "CALLER_ONLY": "leaked", "DJANGO_SUPERUSER_USERNAME": "first-admin"}
    result = subprocess.run(
        [str(installed.wrapper), "env"], env=caller, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    seen = dict(line.split("=", 1) for line in result.stdout.splitlines())
    nobody = pwd.getpwnam("nobody")
    assert seen["USER"] == "nobody" and seen["HOME"] == nobody.pw_dir
    assert seen["DJANGO_SETTINGS_MODULE"] == "smosite.settings.production"
    assert seen["SMOSITE_VAR_DIR"] == str(installed.var_dir)
    assert seen["DEFAULT_FROM_EMAIL"] == f"Reliable Research IQ <reports@{DOMAIN}>"
    assert seen["PRIVATE_STORAGE_URL"] == "s3://b/private?endpoint_url=http://x:9000&region=r"
    assert seen["DJANGO_SUPERUSER_USERNAME"] == "first-admin" and "CALLER_ONLY" not in seen

    identity = subprocess.run(
        [str(installed.wrapper), "sh", "-c", f"id -u; cat {installed.env_file} || echo refused"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert identity.stdout.split()[0] == str(nobody.pw_uid)
    assert identity.stdout.split()[-1] == "refused"  # mode 0600, root's


@pytest.mark.parametrize("command", [["no-such-command"], []], ids=["unknown", "none"])
def test_smosite_refuses_what_it_cannot_run(tmp_path, command):
    installed = installation(tmp_path / "root", "--user", "nobody")
    result = subprocess.run(
        [str(installed.wrapper), *command], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "no such command" in result.stderr or "name a command" in result.stderr
