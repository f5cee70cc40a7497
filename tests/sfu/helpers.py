"""Helpers for SFU tests: join aiortc clients and consume what they receive."""

from __future__ import annotations

import asyncio
import time

from sfu.client import SfuClient
from tests.sfu.media import PatternVideoTrack, TrackConsumer, silence


async def join_client(worker, room: str, name: str, *, width: int = 320, height: int = 240):
    client = SfuClient(
        worker.url,
        room,
        worker.token(room, participant_id=name.lower(), name=name),
        audio=silence(),
        video=PatternVideoTrack(width, height),
    )
    await client.join()
    return client


async def wait_for_tracks(
    client: SfuClient, participant_id: str, timeout: float = 10.0
) -> dict[str, TrackConsumer]:
    """Consumers for the audio and video `client` receives from `participant_id`."""
    deadline = time.monotonic() + timeout
    while len(client.tracks_of(participant_id)) < 2:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{client.participant_id} got {sorted(client.tracks_of(participant_id))} "
                f"of {participant_id} after {timeout} s"
            )
        await asyncio.sleep(0.05)
    return {kind: TrackConsumer(t.track) for kind, t in client.tracks_of(participant_id).items()}


async def close_all(*clients: SfuClient) -> None:
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


async def wait_connected(*clients: SfuClient, timeout: float = 10.0) -> None:
    """Until every client's peer connection is up (stopping a worker while ICE is still
    connecting makes aiortc log an exception)."""
    deadline = time.monotonic() + timeout
    while any(c.pc is None or c.pc.connectionState != "connected" for c in clients):
        if time.monotonic() > deadline:
            raise AssertionError(f"peer connections not up after {timeout} s")
        await asyncio.sleep(0.05)
