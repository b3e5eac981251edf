"""deploy/install.sh run in a throwaway prefix: the files it installs, rendered as a server
would get them, for the tests to check, verify and start. Nothing outside the prefix changes
(install.sh prints, never runs, what would: packages, users, services, the checkout's venv)."""

import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from smosite.envfile import env_file_read

ROOT = Path(settings.BASE_DIR)
INSTALL = ROOT / "deploy" / "install.sh"
DOMAIN = "reports.example.com"
UNITS = sorted(path.name for path in (ROOT / "deploy" / "systemd").iterdir())


def install(prefix: Path, *arguments: str, python: str | None = sys.executable):
    """install.sh --prefix PREFIX; the test interpreter stands for uv's managed Python."""
    command = ["bash", str(INSTALL), "--domain", DOMAIN, "--prefix", str(prefix), *arguments]
    if python:
        command += ["--python", python]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@dataclass
class Installation:
    prefix: Path
    output: str

    @property
    def env_file(self) -> Path:
        return self.prefix / "etc" / "smosite" / "env"

    @property
    def var_dir(self) -> Path:
        return self.prefix / "srv" / "smosite" / "var"

    @property
    def wrapper(self) -> Path:
        return self.prefix / "usr" / "local" / "bin" / "smosite"

    def unit(self, name: str) -> Path:
        return self.prefix / "etc" / "systemd" / "system" / name

    def site(self, name: str) -> Path:
        return self.prefix / "etc" / "nginx" / "sites-available" / name

    def environment(self) -> dict[str, str]:
        return env_file_read(self.env_file)


def installation(prefix: Path, *arguments: str) -> Installation:
    result = install(prefix, *arguments)
    if result.returncode != 0:
        raise AssertionError(f"install.sh failed:\n{result.stdout}\n{result.stderr}")
    return Installation(prefix=prefix, output=result.stdout)


def tree(prefix: Path) -> dict[str, tuple]:
    """Every path under prefix with its mode, owner, group and content (or link target)."""
    found = {}
    for path in sorted(prefix.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            content = os.readlink(path)
        elif path.is_file():
            content = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            content = None
        found[str(path.relative_to(prefix))] = (
            oct(info.st_mode),
            info.st_uid,
            info.st_gid,
            content,
        )
    return found


@dataclass
class UnitFile:
    """The [Service] settings of a rendered unit, as systemd would read them (one value per
    line; Environment= split into its assignments)."""

    path: Path

    def values(self, key: str) -> list[str]:
        return [
            line.split("=", 1)[1]
            for line in self.path.read_text().splitlines()
            if line.startswith(f"{key}=")
        ]

    def value(self, key: str) -> str:
        (found,) = self.values(key)
        return found

    def environment(self) -> dict[str, str]:
        pairs = " ".join(self.values("Environment")).split()
        return dict(pair.split("=", 1) for pair in pairs)

    def command(self, *, runtime_dir: Path, environment: dict[str, str]) -> list[str]:
        """ExecStart as systemd runs it: `${NAME}` is the variable's whole value as one
        argument, `%t` the runtime folder's root, `%%` a percent sign."""
        words = []
        for word in self.value("ExecStart").split():
            word = re.sub(r"\$\{([A-Z_0-9]+)\}", lambda m: environment[m.group(1)], word)
            words.append(word.replace("%t", str(runtime_dir)).replace("%%", "%"))
        return words


def nginx_binary() -> str:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(found, os.X_OK):
        raise RuntimeError("nginx is missing (make test installs it: APT_BENCH)")
    return found
