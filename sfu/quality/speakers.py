"""Who is speaking, from the RFC 6464 audio level of RTP packets: a pure ranking, `now` passed in.

The worker feeds `observe()` the level of each audio packet (or batch) before the jitter buffer
(0 = loudest, 127 = silence, in -dBov) and asks `ranking(now)` once a second for last-N.

Each participant's packets are counted in consecutive windows of `window` seconds: two counters
reset when a window closes, O(1) per packet and nothing allocated. It applies the rule exactly
(at least half of the window's packets as loud as the threshold, level <= threshold_dbov),
which an exponential average would only approximate. A window that meets the rule makes the
participant active at the time of its last packet. Activity within `hold` of the previous
activity continues the same turn of speech: pauses between words and a quiet window do not end
it.

Ranking: participants speaking now (active within `hold`) first, the one whose turn began most
recently first (a turn's start does not move while it lasts, so simultaneous speakers keep
their order instead of swapping at every window), ties by their latest activity; then those
who spoke before, most recent first; then those never active, in order of first observation.
A window is judged when it closes (at its participant's next packet, or at `ranking()` once it
has lasted `window`): activity shows at most `window` seconds late. Levels of a participant
muted by a moderator should not be fed (or `forget()` it): its packets still arrive.
"""

from __future__ import annotations


class _Voice:
    __slots__ = (
        "order",
        "window_start",
        "loud",
        "total",
        "last_packet",
        "turn_start",
        "last_active",
    )

    def __init__(self, order: int) -> None:
        self.order = order  # rank of first observation
        self.window_start = 0.0
        self.loud = 0  # packets at or above the threshold in the current window
        self.total = 0  # packets in the current window (0: no window open)
        self.last_packet = 0.0
        self.turn_start: float | None = None  # start of its latest turn of speech
        self.last_active: float | None = None  # last packet of its latest active window


class ActiveSpeakers:
    """Ranks participants by speech activity. Pure: no I/O, no clock of its own."""

    def __init__(self, *, threshold_dbov: int = 50, hold: float = 1.0, window: float = 0.5) -> None:
        if not 0 <= threshold_dbov <= 127:
            raise ValueError("threshold_dbov is an RFC 6464 level, 0..127")
        if window <= 0 or hold < 0:
            raise ValueError("need window > 0 and hold >= 0")
        self.threshold_dbov = threshold_dbov
        self.hold = hold
        self.window = window
        self._voices: dict[str, _Voice] = {}
        self._observed = 0

    def observe(self, participant_id: str, level: int, now: float) -> None:
        """Count one packet's level (0 loudest … 127 silence). O(1)."""
        voice = self._voices.get(participant_id)
        if voice is None:
            voice = self._voices[participant_id] = _Voice(self._observed)
            self._observed += 1
        elif voice.total and now - voice.window_start >= self.window:
            self._close(voice)
        if not voice.total:
            voice.window_start = now
        voice.total += 1
        if level <= self.threshold_dbov:
            voice.loud += 1
        voice.last_packet = now

    def forget(self, participant_id: str) -> None:
        """The participant left (or was muted): it no longer ranks."""
        self._voices.pop(participant_id, None)

    def speaking(self, now: float) -> tuple[str, ...]:
        """Those speaking now (active within `hold`), in ranking order."""
        ranking = self.ranking(now)
        return tuple(pid for pid in ranking if self._is_speaking(self._voices[pid], now))

    def ranking(self, now: float) -> tuple[str, ...]:
        """Every observed participant, most recently active first (see the module docstring)."""
        for voice in self._voices.values():
            if voice.total and now - voice.window_start >= self.window:
                self._close(voice)

        def key(item: tuple[str, _Voice]) -> tuple:
            voice = item[1]
            if voice.last_active is None:
                return (2, 0.0, 0.0, voice.order)
            if self._is_speaking(voice, now):
                return (0, -voice.turn_start, -voice.last_active, voice.order)
            return (1, -voice.last_active, 0.0, voice.order)

        return tuple(pid for pid, _ in sorted(self._voices.items(), key=key))

    def _is_speaking(self, voice: _Voice, now: float) -> bool:
        return voice.last_active is not None and now - voice.last_active <= self.hold

    def _close(self, voice: _Voice) -> None:
        if 2 * voice.loud >= voice.total:
            if voice.last_active is None or voice.window_start - voice.last_active > self.hold:
                voice.turn_start = voice.window_start
            voice.last_active = voice.last_packet
        voice.loud = voice.total = 0
