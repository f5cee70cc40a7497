"""Datagrams read in batches (sfu/datagrams.py): the stdlib method it replaces is still the one
it was written against, and a backlog is drained in one wake-up."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import socket

from sfu import datagrams

# sha256 of CPython 3.11's `_SelectorDatagramTransport._read_ready` source: if it changes,
# re-check sfu/datagrams.py's copy against the new one before updating this.
STDLIB_READ_READY_SHA256 = "a94e5a17ae9744963a65fc0b639ab0cdc4ac50d88a9b178202a864eed78f3309"


def test_replaced_method_is_the_known_one():
    source = inspect.getsource(datagrams.ORIGINAL_READ_READY)
    assert hashlib.sha256(source.encode()).hexdigest() == STDLIB_READ_READY_SHA256


def test_a_backlog_is_read_in_one_wake_up(monkeypatch):
    monkeypatch.setattr(
        datagrams._Transport, "_read_ready", datagrams._Transport._read_ready
    )  # restored after the test
    datagrams.install()

    class Counting(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.received: list[bytes] = []

        def datagram_received(self, data, addr) -> None:
            self.received.append(data)

    async def scenario():
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            Counting, local_addr=("127.0.0.1", 0)
        )
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for index in range(50):
                sender.sendto(b"%d" % index, transport.get_extra_info("sockname"))
            transport._read_ready()  # one wake-up
            assert len(protocol.received) == datagrams.MAX_DATAGRAMS_PER_READ
            transport._read_ready()
            assert protocol.received == [b"%d" % index for index in range(50)]
            transport._read_ready()  # nothing left: returns at once
            assert len(protocol.received) == 50
        finally:
            sender.close()
            transport.close()

    asyncio.run(scenario())
