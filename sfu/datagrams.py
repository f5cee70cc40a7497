"""Read several datagrams per socket per event-loop iteration (asyncio reads one).

Each participant's media, RTCP and ICE consent checks arrive on one UDP socket (BUNDLE), ≈ 70
datagrams a second from a publisher. asyncio's datagram transport (CPython 3.11) reads one
datagram per ready socket per loop iteration: as soon as iterations take longer than ≈ 15 ms on
average (a renegotiation of 110 m-lines, a garbage collection, a starved CPU), every socket's
backlog grows in the kernel until its buffer overflows, and the answer to a consent check
(RFC 7675: aioice gives it 0.5 s, once every ≈ 5 s, and closes after six misses) waits behind
seconds of media. That is how a loaded worker lost whole groups of participants
(docs/performance.md). Reading up to `MAX_DATAGRAMS_PER_READ` per wake-up drains a backlog as
soon as the loop has a little time, and costs fewer system calls (one `epoll` wake-up for
several datagrams).

`install()` replaces `_SelectorDatagramTransport._read_ready`, a private method, for the
whole process (the worker's `__main__` calls it); tests/sfu/test_datagrams.py fails if it
moves or if the stdlib's version changes from the one this was written against.
"""

from __future__ import annotations

from asyncio import selector_events

MAX_DATAGRAMS_PER_READ = 32

_Transport = selector_events._SelectorDatagramTransport
ORIGINAL_READ_READY = _Transport._read_ready


def _read_ready(self) -> None:
    # CPython 3.11's body, in a loop: stop when the socket is empty or the transport closed.
    for _ in range(MAX_DATAGRAMS_PER_READ):
        if self._conn_lost:
            return
        try:
            data, addr = self._sock.recvfrom(self.max_size)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._protocol.error_received(exc)
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal read error on datagram transport")
            return
        else:
            self._protocol.datagram_received(data, addr)


def install() -> None:
    """Make every selector datagram transport of this process read in batches (idempotent)."""
    _Transport._read_ready = _read_ready
