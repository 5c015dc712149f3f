"""A throwaway redis-server for the benchmarks, on a free loopback port, saving nothing.

The tests have their own (``tests/conftest.py``), tied to pytest's skip and fail; a benchmark
only needs to know whether the server could start.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time


class RedisMissingError(RuntimeError):
    """redis-server is not installed."""


class RedisServer:
    """A redis-server process of our own; :meth:`stop` ends it."""

    def __init__(self) -> None:
        """Start the server and wait until it answers PING (10 s at most).

        Raises:
            RedisMissingError: redis-server is not installed.
            RuntimeError: It did not start.
        """
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisMissingError("redis-server is not installed")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._directory = tempfile.TemporaryDirectory(prefix="bench-redis-")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self._directory.name],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server and throw its folder away."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self._directory.cleanup()
