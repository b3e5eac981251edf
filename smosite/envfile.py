"""The site's environment file, read the way systemd reads it, and `smosite`, the command that
runs a site command with exactly the environment its units get.

The file (`/etc/smosite/env`, deploy/env.template) is in systemd's `EnvironmentFile=` format,
not a shell script: `DEFAULT_FROM_EMAIL=Reliable Research IQ <reports@…>` is one value, spaces
and `<` included, and so is an S3 URL with `&` in its query. `set -a; . /etc/smosite/env` in a
shell breaks on both, so nothing here sources it: the units load it with `EnvironmentFile=`, and
`smosite` (deploy/bin/smosite, `python -m smosite.envfile run …`) reads it with
`env_file_parse`, a port of systemd's parser (`parse_env_file_internal` in
src/basic/env-file.c) that tests/deploy/test_env_file.py compares with systemd's own on this
machine.

    sudo smosite manage site_init
    sudo smosite celery -A smosite inspect ping
"""

import argparse
import os
import pwd
import re
import shutil
import sys
from pathlib import Path

WHITESPACE = " \t\n\r"
NEWLINE = "\n\r"
COMMENTS = "#;"
# Inside double quotes a backslash escapes these (and is dropped); before any other character
# it is kept, as a shell keeps it.
SHELL_NEED_ESCAPE = '"\\`$'
VALID_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Control characters other than tab and newline make a value invalid: systemd drops it.
INVALID_VALUE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class _Parser:
    """systemd's state machine, one character at a time. `KEY=value` ends at a newline; the
    value keeps inner whitespace and loses the trailing one; quotes (single or double, with
    backslash escapes inside double ones) may surround any part of it; a backslash outside
    quotes takes the next character literally and joins lines. A line starting with # or ; is
    a comment (never a # later in a line). No variable is expanded."""

    def __init__(self):
        self.pairs: list[tuple[str, str]] = []
        self.key: list[str] = []
        self.value: list[str] = []
        self.key_space: int | None = None  # where the key's trailing whitespace starts
        self.value_space: int | None = None  # where the value's trailing whitespace starts
        self.state = "pre_key"

    def parse(self, text: str) -> list[tuple[str, str]]:
        for c in text:
            getattr(self, f"on_{self.state}")(c)
        if self.state in ("pre_value", "value", "value_escape", "single_quote",
                          "double_quote", "double_quote_escape"):  # fmt: skip
            self.push(chomp=self.state == "value")
        return self.pairs

    def push(self, *, chomp: bool) -> None:
        key = self.key if self.key_space is None else self.key[: self.key_space]
        value = self.value
        if chomp and self.value_space is not None:
            value = value[: self.value_space]
        self.pairs.append(("".join(key), "".join(value)))
        self.key, self.value, self.key_space, self.value_space = [], [], None, None

    def on_pre_key(self, c):
        if c in COMMENTS:
            self.state = "comment"
        elif c not in WHITESPACE:
            self.state, self.key_space = "key", None
            self.key.append(c)

    def on_key(self, c):
        if c in NEWLINE:
            self.state, self.key = "pre_key", []  # a line without "=" is ignored
        elif c == "=":
            self.state, self.value_space = "pre_value", None
        else:
            if c not in WHITESPACE:
                self.key_space = None
            elif self.key_space is None:
                self.key_space = len(self.key)
            self.key.append(c)

    def on_pre_value(self, c):
        if c in NEWLINE:
            self.state = "pre_key"
            self.push(chomp=False)
        elif c == "'":
            self.state = "single_quote"
        elif c == '"':
            self.state = "double_quote"
        elif c == "\\":
            self.state = "value_escape"
        elif c not in WHITESPACE:
            self.state = "value"
            self.value.append(c)

    def on_value(self, c):
        if c in NEWLINE:
            self.state = "pre_key"
            self.push(chomp=True)
        elif c == "\\":
            self.state, self.value_space = "value_escape", None
        else:
            if c not in WHITESPACE:
                self.value_space = None
            elif self.value_space is None:
                self.value_space = len(self.value)
            self.value.append(c)

    def on_value_escape(self, c):
        self.state = "value"
        if c not in NEWLINE:  # an escaped newline joins the lines
            self.value.append(c)

    def on_single_quote(self, c):
        if c == "'":
            self.state = "pre_value"
        else:
            self.value.append(c)

    def on_double_quote(self, c):
        if c == '"':
            self.state = "pre_value"
        elif c == "\\":
            self.state = "double_quote_escape"
        else:
            self.value.append(c)

    def on_double_quote_escape(self, c):
        self.state = "double_quote"
        if c in SHELL_NEED_ESCAPE:
            self.value.append(c)
        elif c != "\n":
            self.value.extend(("\\", c))

    def on_comment(self, c):
        if c == "\\":
            self.state = "comment_escape"
        elif c in NEWLINE:
            self.state = "pre_key"

    def on_comment_escape(self, c):
        # systemd >= 254: a comment ending in a backslash does not go on to the next line
        # (252, Debian 12's, joined them; deploy/env.template has no such line).
        self.state = "pre_key" if c in NEWLINE else "comment"


def env_file_parse(text: str) -> dict[str, str]:
    """NAME -> value, as a unit with `EnvironmentFile=` gets them: later lines win, and an
    assignment with an invalid name or a control character in its value is dropped."""
    found: dict[str, str] = {}
    for key, value in _Parser().parse(text):
        if VALID_NAME.fullmatch(key) and not INVALID_VALUE.search(value):
            found[key] = value
    return found


def env_file_read(path: Path) -> dict[str, str]:
    return env_file_parse(path.read_text(encoding="utf-8"))


# --- `smosite`: a site command with the units' environment ------------------------------------


def command_for(program: str, arguments: list[str], *, app: Path) -> list[str]:
    """`manage …` is manage.py under the site's interpreter; `python`, `celery`, `gunicorn`
    and the other programs of the site's virtual environment are found there; anything else
    on the system PATH."""
    venv_bin = Path(sys.executable).parent
    if program == "manage":
        return [str(venv_bin / "python"), str(app / "manage.py"), *arguments]
    if (venv_bin / program).is_file():
        return [str(venv_bin / program), *arguments]
    found = shutil.which(program, path=SYSTEM_PATH)
    if found is None:
        raise SystemExit(f"smosite: no such command: {program}")
    return [found, *arguments]


def process_environment(
    *, env_file: Path, defaults: dict[str, str], user: pwd.struct_passwd, passed: list[str]
) -> dict[str, str]:
    """What a unit's process gets: a clean base (as systemd gives a service: PATH, the user's
    HOME, USER and LOGNAME, the locale), the unit's own defaults (`Environment=`), then the
    file, which overrides them (as `EnvironmentFile=` overrides `Environment=`). Variables
    named in `passed` (DJANGO_SUPERUSER_PASSWORD for a first run) come from the caller."""
    environment = {
        "PATH": SYSTEM_PATH,
        "HOME": user.pw_dir,
        "USER": user.pw_name,
        "LOGNAME": user.pw_name,
        "LANG": os.environ.get("LANG") or "C.UTF-8",
    }
    if os.environ.get("TERM"):
        environment["TERM"] = os.environ["TERM"]
    environment |= defaults
    environment |= env_file_read(env_file)
    environment |= {name: os.environ[name] for name in passed if name in os.environ}
    return environment


def become(user: pwd.struct_passwd) -> None:
    """Run as the service user, as the units do (User=, Group= and its supplementary groups)."""
    if os.geteuid() == user.pw_uid:
        return
    if os.geteuid() != 0:
        raise SystemExit(f"smosite: run it as root (sudo) or as {user.pw_name}.")
    os.initgroups(user.pw_name, user.pw_gid)
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="smosite", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run a command with the units' environment")
    run.add_argument("--env-file", type=Path, required=True)
    run.add_argument("--user", required=True, help="the service user the units run as")
    run.add_argument("--app", type=Path, default=Path.cwd(), help="the site's checkout")
    run.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                     help="a default the units set (Environment=); the file overrides it")  # fmt: skip
    run.add_argument("--pass", dest="passed", action="append", default=[], metavar="NAME",
                     help="a variable taken from the caller's environment")  # fmt: skip
    run.add_argument("command", nargs=argparse.REMAINDER)
    show = sub.add_parser("show", help="print NAME=value for each variable the file sets")
    show.add_argument("--env-file", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.action == "show":
        for name, value in env_file_read(args.env_file).items():
            print(f"{name}={value}")
        return
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("name a command: manage …, celery …, python …")
    user = pwd.getpwnam(args.user)
    defaults = dict(item.split("=", 1) for item in args.set)
    environment = process_environment(
        env_file=args.env_file, defaults=defaults, user=user, passed=args.passed
    )
    argv_ = command_for(command[0], command[1:], app=args.app)
    become(user)
    os.chdir(args.app)
    os.execve(argv_[0], argv_, environment)  # noqa: S606 - the command the operator typed


if __name__ == "__main__":
    main()
