"""A TCP server on loopback that accepts connections and never answers: a service that hangs
(a dead host behind a live load balancer, a Redis stuck on a full disk), for real."""

import contextlib
import socket
import threading


class StallingServer:
    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # closed by stop()
            self.accepted.append(connection)

    def __enter__(self) -> "StallingServer":
        self.thread.start()
        return self

    def __exit__(self, *exc):
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        self.listener.close()
        for connection in self.accepted:
            connection.close()  # the hung client now gets a reset and gives up
        self.thread.join(timeout=5)
