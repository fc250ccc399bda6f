"""Faults injected from outside the engine: a private Redis server, a cuttable database link.

Both stand between the engine's processes and a real service so that a scenario can
take the service away without disturbing the machine's shared servers (or other tests):

- :class:`RedisServer` is a real ``redis-server`` on a free port, keeping nothing on
  disk like the machine's own; ``flushall()`` empties it, ``restart()`` stops and
  starts it again (everything in memory is gone, as in production).
- :class:`TcpProxy` forwards a local port to PostgreSQL. ``outage(seconds)`` closes
  every open connection at once and refuses new ones for that long, which is what the
  engine sees of a database restart: live connections die mid-statement, new ones are
  refused until the server is back, and the server rolls back every transaction whose
  connection went away.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import redis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from engine.db import Database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A private ``redis-server`` (no persistence) that a scenario may flush or restart."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.folder / f"redis-{self.port}.log").open("ab")
        with log:
            self._process = subprocess.Popen(
                [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                 "--appendonly", "no", "--dir", str(self.folder)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError), self.client() as client:
                if client.ping():
                    return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()  # SIGKILL: nothing is saved, nothing is flushed politely
            self._process.wait()
        self._process = None

    def restart(self, down_s: float = 0.0) -> None:
        """Kill the server (all data is gone) and start an empty one on the same port."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def flushall(self) -> None:
        with self.client() as client:
            client.flushall()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2)


@contextlib.contextmanager
def running_redis(folder: Path) -> Iterator[RedisServer]:
    server = RedisServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``target``; ``outage()`` plays a server restart."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._down = threading.Event()
        self._closed = threading.Event()
        self.refused = 0  # connections refused while down
        self.cut = 0  # live connections closed by outages
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def outage(self, down_s: float) -> None:
        """Close every live connection now and refuse new ones for ``down_s`` seconds."""
        self._down.set()
        with self._lock:
            victims = list(self._open)
            self._open.clear()
        for sock in victims:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.cut += len(victims) // 2  # counted once they are all closed
        time.sleep(down_s)
        self._down.clear()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            for sock in self._open:
                sock.close()
            self._open.clear()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._down.is_set():
                self.refused += 1
                # An RST, as a port with no listener gives: the client's connect fails at once.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)


class PostgresRestart:
    """A real restart of the machine's PostgreSQL cluster (``pg_ctlcluster``), for
    ``--real-db-restart`` on a machine of one's own: it disturbs everything using it."""

    def __init__(self) -> None:
        versions = sorted(Path("/etc/postgresql").glob("*/main"))
        if not versions or shutil.which("pg_ctlcluster") is None:
            raise RuntimeError("no PostgreSQL cluster that pg_ctlcluster can restart")
        self.version = versions[-1].parent.name
        self.restarts = 0

    def outage(self, down_s: float) -> None:
        """Stop the server (fast: live connections are terminated), wait, start it again."""
        self._ctl("stop", "-m", "fast")
        time.sleep(down_s)
        self._ctl("start")
        self.restarts += 1

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, "main", *args],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip


@contextlib.contextmanager
def proxied(target_host: str, target_port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy(target_host, target_port)
    try:
        yield proxy
    finally:
        proxy.close()


@contextlib.contextmanager
def database_behind_proxy(url: str) -> Iterator[tuple[Database, TcpProxy]]:
    """A :class:`Database` on ``url`` reached through a proxy, with one live connection
    in each of its pools (so an outage leaves both holding a dead one)."""
    real = make_url(url)
    with proxied(real.host or "127.0.0.1", real.port or 5432) as proxy:
        database = Database(real.set(port=proxy.port).render_as_string(hide_password=False))
        try:
            for engine in (database.engine, database.async_commit_engine):
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
            yield database, proxy
        finally:
            database.dispose()
