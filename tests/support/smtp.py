"""A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

import asyncio
import email
import email.policy
import socket
import threading
import time

from aiosmtpd.controller import Controller

from .ports import free_port


class Sink:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []
        self.fail_next = 0  # answer this many DATA commands with a 451 (a transient failure)
        self.delay_seconds = 0.0  # how long each message takes to be answered (a slow server)
        self.fail_once: set[str] = set()  # the first message to each of these gets a 451
        self.refuse: set[str] = set()  # RCPT TO these is answered 550, quoting the address
        self._holds: dict[str, threading.Event] = {}  # waiting for their first message
        self._gates: list[threading.Event] = []  # every gate handed out, to release them all
        self._lock = threading.Lock()

    def hold_first(self, address: str) -> threading.Event:
        """The first message to `address` is answered only once the returned event is set (a
        send that outlives whatever the test does meanwhile)."""
        gate = self._holds[address] = threading.Event()
        self._gates.append(gate)
        return gate

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        for address in envelope.rcpt_tos:
            gate = self._holds.pop(address, None)
            while gate is not None and not gate.is_set():
                await asyncio.sleep(0.05)
        with self._lock:
            once = self.fail_once.intersection(envelope.rcpt_tos)
            if self.fail_next or once:
                self.fail_next -= 0 if once else 1
                self.fail_once -= once
                return "451 4.3.0 Try again later"
            self.envelopes.append(envelope)
            self.messages.append(
                email.message_from_bytes(envelope.content, policy=email.policy.default)
            )
        return "250 OK"

    def clear(self):
        with self._lock:
            self.messages.clear()
            self.envelopes.clear()
            self.fail_next = 0
            self.delay_seconds = 0.0
            self.fail_once.clear()
            self.refuse.clear()
        self.release_holds()

    def release_holds(self):
        for gate in self._gates:
            gate.set()
        self._gates.clear()
        self._holds.clear()

    def to(self, address: str) -> list:
        with self._lock:
            return [m for m in self.messages if address in m["To"]]

    def wait_for(self, count: int = 1, *, to: str | None = None, timeout: float = 30.0) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(to) if to else list(self.messages)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"expected {count} message(s) to {to or 'anyone'}, got {len(found)}")


class SmtpServer:
    def __init__(self):
        self.sink = Sink()
        self.port = free_port()
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()


class SmtpEndpoint:
    """One loopback port whose SMTP server a test switches between the ways a real one
    fails: nothing listening (refused), an aiosmtpd answering 451 to every message, a server
    that accepts the connection and never says a word (hang), and one that accepts mail."""

    def __init__(self):
        self.port = free_port()
        self.sink = Sink()
        self._controller = None
        self._silent = None

    def refuse(self):
        self._close()

    def fail(self):
        self._close()
        self.sink.fail_next = 10**6
        self._serve()

    def hang(self):
        self._close()
        self._silent = socket.socket()
        self._silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._silent.bind(("127.0.0.1", self.port))
        self._silent.listen(16)  # connections complete in the backlog; nobody answers

    def accept(self):
        self._close()
        self.sink.fail_next = 0
        self._serve()

    def _serve(self):
        self._controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def _close(self):
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._silent is not None:
            self._silent.close()
            self._silent = None
