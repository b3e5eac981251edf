"""deploy/install.sh, run as root in a throwaway root-owned prefix: --dry-run says every step
and changes nothing; a run writes the files with their owners and modes, never over an
existing environment file, and a second run changes nothing. Nothing outside the prefix
changes (package installs, users, services and the checkout's environment are printed)."""

import os
import re
import shutil
import stat
import subprocess
import sys

import pytest

from tests.support.deploy import DOMAIN, INSTALL, ROOT, UNITS, install, installation, tree


@pytest.fixture
def prefix(tmp_path):
    root = tmp_path / "root"
    root.mkdir(mode=0o755)
    assert os.stat(root).st_uid == 0, "the tests run install.sh as root, as a server does"
    return root


def makefile_list(name: str) -> list[str]:
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    (line,) = re.findall(rf"^{name} := (.*)$", text, flags=re.MULTILINE)
    return line.split()


def steps(output: str) -> list[str]:
    return [line[2:] for line in output.splitlines() if line.startswith("+ ")]


def test_a_dry_run_prints_every_step_and_changes_nothing(prefix):
    before = tree(prefix)
    result = install(prefix, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert tree(prefix) == before == {}
    planned = steps(result.stdout)
    apt = next(step for step in planned if "apt-get install" in step).split()
    # WeasyPrint's libraries and fonts (the Makefile's list), the web server, the certificate
    # client, the backup client and the local services.
    wanted = makefile_list("APT_RUNTIME") + ["nginx", "certbot", "postgresql-client",
                                             "python3-venv", "postgresql", "redis-server"]  # fmt: skip
    assert set(wanted) <= set(apt)
    home = prefix / "srv" / "smosite"
    assert (f"useradd --system --user-group --home-dir {home} --no-create-home "
            "--shell /usr/sbin/nologin smosite") in planned  # fmt: skip
    assert f"install -d -m 0750 -o root -g smosite {home}" in planned
    assert any(step.startswith(f"install -d -m 0750 -o smosite -g smosite {home}/var ")
               for step in planned)  # fmt: skip
    env = prefix / "etc" / "smosite" / "env"
    assert any(step.startswith(f"install -m 0600 -o root -g root deploy/env.template {env}")
               for step in planned)  # fmt: skip
    for unit in UNITS:
        assert any(step.endswith(f"{prefix}/etc/systemd/system/{unit}    # rendered")
                   for step in planned), unit  # fmt: skip
    sync = next(step for step in planned if " sync " in step)
    assert "--frozen --no-dev" in sync and f"UV_PYTHON={sys.executable} " in sync
    assert not any("python install" in step for step in planned)  # --python given
    enable = next(step for step in planned if step.startswith("systemctl enable smosite.target"))
    assert "smosite-beat.service" in enable and "smosite-backup.timer" in enable
    assert "ln -s ../sites-available/smosite-http.conf " in "\n".join(planned) + " "
    assert not any("smosite-https.conf" in step and "ln -s" in step for step in planned)


def test_without_python_it_installs_uvs_managed_python_where_the_service_can_read_it(prefix):
    result = install(prefix, "--dry-run", python=None)
    assert result.returncode == 0, result.stderr
    version = (ROOT / ".python-version").read_text().strip()
    python_dir = prefix / "srv" / "smosite" / "python"
    assert any(
        step.startswith(f"env UV_PYTHON_INSTALL_DIR={python_dir} ")
        and step.endswith(f"python install {version}")
        for step in steps(result.stdout)
    )


def test_a_run_in_a_prefix_writes_owners_and_modes_and_a_second_run_changes_nothing(prefix):
    first = installation(prefix, "--user", "nobody")
    files = tree(prefix)
    owner = {
        path: (oct(stat.S_IMODE(int(mode, 8))), uid, gid)
        for path, (mode, uid, gid, _) in files.items()
    }
    nobody, nogroup = 65534, 65534
    assert owner["srv/smosite"] == ("0o750", 0, nogroup)
    assert owner["srv/smosite/var"] == ("0o750", nobody, nogroup)
    assert owner["srv/smosite/var/private"] == ("0o750", nobody, nogroup)
    assert owner["var/backups/smosite"] == ("0o750", nobody, nogroup)
    assert owner["etc/smosite/env"] == ("0o600", 0, 0)
    assert owner["etc/systemd/system/smosite-web.service"] == ("0o644", 0, 0)
    assert owner["usr/local/bin/smosite"] == ("0o755", 0, 0)
    assert (
        files["etc/nginx/sites-enabled/smosite-http.conf"][3]
        == "../sites-available/smosite-http.conf"
    )
    for path in prefix.rglob("*"):
        if path.is_file():
            assert not re.search(r"@[A-Z_]+@", path.read_text()), f"a placeholder left in {path}"
    # Outside the prefix: printed, not run. The checkout keeps its test tools, no user is made.
    assert "# not run: --prefix" in first.output
    assert subprocess.run(["id", "smosite"], capture_output=True).returncode != 0
    assert (ROOT / ".venv" / "bin" / "pytest").exists()

    second = installation(prefix, "--user", "nobody")
    assert tree(prefix) == files
    assert "wrote" not in second.output and "kept" in second.output


def test_an_existing_env_file_is_never_overwritten_and_new_template_variables_are_named(prefix):
    env = prefix / "etc" / "smosite" / "env"
    env.parent.mkdir(parents=True)
    env.write_text("DJANGO_SECRET_KEY=the operator's own\nSITE_URL=https://mine.example\n")
    env.chmod(0o640)
    dry = install(prefix, "--dry-run")
    assert f"kept {env} (never overwritten)" in dry.stdout
    installed = installation(prefix, "--user", "nobody")
    assert (
        env.read_text() == "DJANGO_SECRET_KEY=the operator's own\nSITE_URL=https://mine.example\n"
    )
    assert stat.S_IMODE(env.stat().st_mode) == 0o640
    assert "the template sets what it does not: " in installed.output
    assert "DEFAULT_FROM_EMAIL" in installed.output and "SITE_URL " not in installed.output


def test_https_is_enabled_once_the_certificate_exists(prefix):
    first = installation(prefix, "--user", "nobody")
    enabled = prefix / "etc" / "nginx" / "sites-enabled"
    assert not (enabled / "smosite-https.conf").exists()
    assert f"certbot certonly --webroot -w {prefix}/var/www/letsencrypt -d {DOMAIN}" in first.output
    live = prefix / "etc" / "letsencrypt" / "live" / DOMAIN
    live.mkdir(parents=True)
    (live / "fullchain.pem").write_text("certificate")
    installation(prefix, "--user", "nobody")
    assert os.readlink(enabled / "smosite-https.conf") == "../sites-available/smosite-https.conf"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "--domain is required"),
        (["--domain", "not a name"], "not a host name"),
        (["--domain", DOMAIN, "--prefix", "relative/path"], "absolute path"),
        (["--domain", DOMAIN, "--frobnicate"], "unknown option --frobnicate"),
        (["--domain", DOMAIN, "--dry-run", "--python", "/usr/bin/python3"], "the site needs"),
    ],
    ids=["no-domain", "bad-domain", "relative-prefix", "unknown-option", "wrong-python"],
)
def test_bad_arguments_are_refused_before_anything_changes(prefix, arguments, message):
    result = subprocess.run(["bash", str(INSTALL), *arguments, *(["--prefix", str(prefix)] if "--prefix" not in arguments else [])],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode != 0 and message in result.stderr
    assert tree(prefix) == {}


def test_the_runtime_packages_and_uv_are_the_makefiles(prefix):
    listed = re.search(r"RUNTIME_PACKAGES=\(([^)]*)\)", INSTALL.read_text()).group(1).split()
    assert listed == makefile_list("APT_RUNTIME")
    (uv,) = re.findall(r'"uv==([\d.]+)"', (ROOT / "Makefile").read_text())
    assert f"(uv {uv}, " in install(prefix, "--dry-run").stdout


def test_the_systems_own_folders_keep_their_owners_and_modes(prefix):
    """/var/log/nginx (root:adm) and /etc/redis (redis:redis, 2770) belong to their packages:
    install.sh writes into them without changing them."""
    nginx_log = prefix / "var" / "log" / "nginx"
    redis_conf = prefix / "etc" / "redis"
    for folder, mode, group in ((nginx_log, 0o750, "adm"), (redis_conf, 0o2770, "redis")):
        folder.mkdir(parents=True)
        shutil.chown(folder, group=group)
        folder.chmod(mode)
    before = {
        folder: (folder.stat().st_mode, folder.stat().st_gid) for folder in (nginx_log, redis_conf)
    }
    installation(prefix, "--user", "nobody")
    assert {folder: (folder.stat().st_mode, folder.stat().st_gid) for folder in before} == before
    assert (redis_conf / "redis-cache.conf").exists()
