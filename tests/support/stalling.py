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


class StallingProxy:
    """A cache that hangs, then answers: while `hanging`, it accepts connections and never
    answers, counting the commands sent to it (each one a client waiting for its timeout);
    after `answer()`, new connections are relayed to a real server (`upstream`)."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.hanging = True
        self.accepted = 0  # connections made while hanging
        self.commands = 0  # commands sent while hanging: each one a client that waited
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def __enter__(self) -> "StallingProxy":
        self._thread(self._accept)
        return self

    def __exit__(self, *exc):
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        for thread in self.threads:
            thread.join(timeout=5)

    def answer(self) -> None:
        self.hanging = False

    def _thread(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.sockets.append(client)
            if self.hanging:
                with self.lock:
                    self.accepted += 1
                self._thread(self._swallow, client)
            else:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
                with self.lock:
                    self.sockets.append(upstream)
                self._thread(self._pump, client, upstream)
                self._thread(self._pump, upstream, client)

    def _swallow(self, client: socket.socket) -> None:
        """Reads what the client sends and answers nothing."""
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.commands += 1

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
            except OSError:
                break
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)
