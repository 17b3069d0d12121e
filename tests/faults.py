"""Services that go away, for fault tests: a Redis server of the test's own that it stops and
starts again, and a TCP relay in front of PostgreSQL whose cut drops every connection at once,
as a restarting server does to its clients."""

from __future__ import annotations

import contextlib
import select
import socket
import subprocess
import threading
from pathlib import Path

from tests.processes import free_port, wait_for


class OwnRedis:
    """redis-server on a port of its own, nothing kept on disk."""

    def __init__(self, folder: Path) -> None:
        self.port, self.folder = free_port(), folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: _accepts(self.port), 10, "redis-server to listen")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Relay:
    """127.0.0.1:<port> relayed to a server; `cut()` closes the listener and every relayed
    connection, `mend()` listens again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port, self.port = target_port, free_port()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None

    def mend(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            if self._listener is not None:
                # Closing alone leaves a socket blocked in accept() listening (Linux).
                with contextlib.suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            server = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while True:
                readable, _, _ = select.select(list(peers), [], [], 1.0)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return  # cut under us


def relayed_database_url(relay: Relay) -> str:
    """The test database's URL, through the relay."""
    from urllib.parse import urlsplit, urlunsplit

    from tests.processes import test_database_url

    database = urlsplit(test_database_url())
    host = database.netloc.rsplit(":", 1)[0] if database.port else database.netloc
    return urlunsplit(database._replace(netloc=f"{host}:{relay.port}"))


def relay_for_the_test_database() -> Relay:
    from urllib.parse import urlsplit

    from tests.processes import test_database_url

    database = urlsplit(test_database_url())
    assert database.scheme == "postgres", \
        "fault tests relay PostgreSQL: run them with DATABASE_URL=postgres://…"
    relay = Relay(database.port or 5432)
    relay.mend()
    return relay
