"""A private Dovecot IMAP server (Debian's dovecot-imapd) for the inbound-mail tests.

Started in the foreground with a configuration of its own in a temporary folder: it listens on
127.0.0.1 only, on a reserved free port (tests/support/ports.py), authenticates one user from a
passwd-file, keeps mail as maildir in the folder, logs to a file there, and is stopped by its
own PID. The machine's Dovecot service (if any) is never touched. Plain IMAP without TLS, which
the site allows only for loopback (enquiries/services/inbound_mailbox.py).

Started as root, Dovecot itself needs unprivileged users for its login and mail processes: the
`dovecot` and `dovenull` users the Debian package creates. Started as anyone else, every
process runs as that user. A missing `dovecot` binary is an error, never a skip."""

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .ports import Reserved

DOVECOT = "/usr/sbin/dovecot"

CONFIG = """\
instance_name = smosite-test-{port}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%n
default_internal_user = {internal_user}
default_login_user = {login_user}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
"""


class DovecotServer:
    """`start()`, then `url()` for INBOUND_IMAP_URL, `append(raw)` to deliver a message by
    IMAP APPEND, `stop()` at teardown."""

    def __init__(self, user: str = "inbound", password: str = "inbound-secret"):  # noqa: S107
        if not os.access(DOVECOT, os.X_OK):
            raise RuntimeError(
                f"Dovecot is missing at {DOVECOT}: apt-get install dovecot-imapd "
                "(the Makefile's APT_TEST list; `make system-deps-test`)."
            )
        self.user, self.password = user, password
        # Not under pytest's 0700 tmp folders: Dovecot's own processes (as `dovecot`) must reach it.
        self.root = Path(tempfile.mkdtemp(prefix="dovecot-"))
        self.root.chmod(0o755)
        self._reserved = Reserved()
        self.port = self._reserved.port
        self.process = None

    def url(self, folder: str = "INBOX") -> str:
        return f"imap://{self.user}:{self.password}@127.0.0.1:{self.port}/{folder}"

    def start(self, timeout: float = 20.0) -> "DovecotServer":
        config = self._write_config()
        self._reserved.release()
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [DOVECOT, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=(self.root / "stderr.log").open("wb"),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited ({self.process.returncode}): {self.log_tail()}")
            if self._greets():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot not answering on {self.port} after {timeout}s")

    def _write_config(self) -> Path:
        if os.geteuid() == 0:
            mail_user = pwd.getpwnam("dovecot")
            internal_user, login_user = "dovecot", "dovenull"
        else:
            mail_user = pwd.getpwuid(os.geteuid())
            internal_user = login_user = mail_user.pw_name
        for folder in ("run", "state", "mail", "home"):
            (self.root / folder).mkdir(mode=0o755)
        for folder in ("mail", "home"):
            os.chown(self.root / folder, mail_user.pw_uid, mail_user.pw_gid)
        (self.root / "passwd").write_text(f"{self.user}:{self.password}::::::\n")
        config = self.root / "dovecot.conf"
        config.write_text(
            CONFIG.format(
                root=self.root,
                port=self.port,
                uid=mail_user.pw_uid,
                gid=mail_user.pw_gid,
                internal_user=internal_user,
                login_user=login_user,
            )
        )
        return config

    def _greets(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                return conn.recv(64).startswith(b"* OK")
        except OSError:
            return False

    def client(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        imap.login(self.user, self.password)
        return imap

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver a message the way a mail client files one: IMAP APPEND (unseen)."""
        imap = self.client()
        try:
            status, data = imap.append(folder, None, None, raw)
            if status != "OK":
                raise RuntimeError(f"APPEND failed: {data!r}")
        finally:
            imap.logout()

    def messages(self, folder: str = "INBOX", criteria: str = "ALL") -> list[tuple[str, bytes]]:
        """(flags, raw) of each message in `folder` matching `criteria`, read without
        changing flags."""
        imap = self.client()
        try:
            status, _ = imap.select(folder, readonly=True)
            if status != "OK":
                return []
            _, data = imap.uid("SEARCH", None, criteria)
            found = []
            for uid in data[0].split():
                _, parts = imap.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
                found.append((parts[0][0].decode(), parts[0][1]))
            return found
        finally:
            imap.logout()

    def clear(self) -> None:
        """Delete every message of the user (between tests)."""
        imap = self.client()
        try:
            _, folders = imap.list()
            for line in folders or []:
                name = line.decode().rsplit(' "." ', 1)[-1].strip('"')
                status, count = imap.select(name)
                if status == "OK" and int(count[0] or 0):
                    imap.store("1:*", "+FLAGS", r"(\Deleted)")
                    imap.expunge()
        finally:
            imap.logout()

    def log_tail(self, characters: int = 3000) -> str:
        text = ""
        for name in ("stderr.log", "dovecot.log"):
            path = self.root / name
            if path.exists():
                text += path.read_text(errors="replace")
        return text[-characters:]

    def stop(self) -> None:
        """Stop our Dovecot by its PID (its children follow the master) and delete the folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)
