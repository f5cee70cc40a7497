"""Baseline for the bench: the SFU worker with aiortc's decode-and-re-encode relay in place of
frame pass-through. `python -m bench.naive_relay` takes the same environment variables as
`python -m sfu` and speaks the same protocol, so the same load generator drives both.

Two substitutions, made before the worker starts, nothing else changed:
- receivers keep aiortc's real decoders (frame pass-through is not installed);
- each publication shares its decoded track through `aiortc.contrib.media.MediaRelay`, so every
  subscriber's RTCRtpSender encodes its own copy (VP8 / Opus), as a naive aiortc relay does.
MediaRelay's per-subscriber queues are unbounded (its default, `buffered=True`): under overload
latency grows instead of frames being dropped, which is what this baseline is meant to show.
"""

from __future__ import annotations

import logging
import sys

from aiortc import MediaStreamTrack, RTCRtpReceiver
from aiortc.contrib.media import MediaRelay

import sfu.app
import sfu.peer
from sfu.forwarding import Publication, SubscriberLoad
from sfu.passthrough import check_hook_points

logger = logging.getLogger(__name__)


class RelayedPublication(Publication):
    """A publication whose subscribers get MediaRelay proxies of the decoded track."""

    def __init__(
        self, owner_id: str, kind: str, track: MediaStreamTrack, receiver: RTCRtpReceiver
    ) -> None:
        super().__init__(owner_id, kind, track, receiver)
        self._relay = MediaRelay()
        self._proxies: dict[str, MediaStreamTrack] = {}

    def start(self) -> None:
        """Nothing to run: MediaRelay reads the source track when the first proxy is read."""

    def subscribe(self, subscriber_id: str, load: SubscriberLoad) -> MediaStreamTrack:
        proxy = self._relay.subscribe(self._track)
        self._proxies[subscriber_id] = proxy
        return proxy

    def unsubscribe(self, subscriber_id: str) -> None:
        proxy = self._proxies.pop(subscriber_id, None)
        if proxy is not None:
            proxy.stop()

    async def stop(self) -> None:
        for subscriber_id in list(self._proxies):
            self.unsubscribe(subscriber_id)
        if self.keyframes is not None:
            self.keyframes.close()


def _keep_real_decoders() -> None:
    check_hook_points()
    logger.info("naive relay: receivers decode, senders re-encode")


def install_naive_relay() -> None:
    """Swap the worker's forwarding for MediaRelay (process-wide; call before the app starts)."""
    sfu.app.install_passthrough = _keep_real_decoders
    sfu.peer.Publication = RelayedPublication


if __name__ == "__main__":
    install_naive_relay()
    from sfu.__main__ import main

    sys.exit(main())
