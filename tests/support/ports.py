"""Loopback ports for the servers that tests and benchmarks start.

A port found free by binding port 0 and closing the probe is free only until someone else
binds one: the kernel may hand the same number to the next server that asks for port 0 (the
Stripe test server, aiosmtpd) or to an outgoing connection, and the server meant for it then
fails with "address in use" while a check on the port talks to whoever has it (`make bench`
once read its sample form from the Stripe test server). So a port for a server that starts
later is reserved: a socket bound to it stays open until the server takes it over —
gunicorn as an inherited listening socket (`gunicorn_bind`), anything else by closing the
reservation just before it starts (`release`)."""

import socket


def free_port() -> int:
    """For a server started right away, in this thread: the gap is its own start-up."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Reserved:
    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]

    def gunicorn_bind(self) -> tuple[list[str], tuple[int, ...]]:
        """gunicorn's --bind arguments for this socket and the fds its Popen must pass."""
        self.socket.listen(128)
        fd = self.socket.fileno()
        return ["--bind", f"fd://{fd}"], (fd,)

    def release(self) -> int:
        """Close the reservation (after the server inherited it, or just before it binds)."""
        self.socket.close()
        return self.port
