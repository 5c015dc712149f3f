"""A throwaway redis-server on a free loopback port, saving nothing: for tests and benchmarks.

Free of pytest (the benchmarks use it too): ``tests/conftest.py`` turns its errors into a
skip, or a failure where CI requires the server.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class RedisMissingError(RuntimeError):
    """redis-server is not installed."""


class RedisServer:
    """A redis-server process of our own; :meth:`stop` ends it.

    Args:
        directory: Its working folder; ``None``: a temporary one, removed by :meth:`stop`.

    Raises:
        RedisMissingError: redis-server is not installed.
        RuntimeError: It did not answer PING within 10 seconds.
    """

    def __init__(self, directory: Path | None = None) -> None:
        """Start the server and wait until it answers."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisMissingError("redis-server is not installed")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._temporary = (
            tempfile.TemporaryDirectory(prefix="purecallerid-redis-") if directory is None else None
        )
        folder = directory if self._temporary is None else Path(self._temporary.name)
        self.process = subprocess.Popen(  # noqa: S603 - our own arguments
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def answers(self) -> bool:
        """Whether the server answers PING."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server and wait for it to exit (a temporary folder is removed)."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        if self._temporary is not None:
            self._temporary.cleanup()
