"""A minimal HTTP/1.1 server on asyncio.Protocol, for benchmarks: fast enough not to be measured.

It answers every request with one small JSON screening answer, keeps connections alive, and
delays the answer by the number of milliseconds given as the first path segment when it is a
number (``POST /20/singleLeadLoading`` answers after 20 ms), so that one server can play
vendors of several latencies. Run as ``python _server.py PORT [CORE]``; it prints ``ready``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Final

BODY: Final = b'{"status":"Accepted","reason":null,"message":"Lead loaded"}'
RESPONSE: Final = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            path = head.split(b" ", 2)[1]
            first = path.split(b"/")[1] if path.count(b"/") > 1 else b""
            if first.isdigit():
                asyncio.get_running_loop().call_later(int(first) / 1000, self._answer)
            else:
                self._answer()

    def _answer(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(RESPONSE)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Protocol, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) > 2:
        os.sched_setaffinity(0, {int(sys.argv[2])})
    asyncio.run(serve(int(sys.argv[1])))
