"""Which publishers' audio a crowded room forwards: everyone who is not silent.

In a meeting of twenty or fifty-five, most microphones are muted or silent, yet each one still
sends 50 packets a second that the SFU would copy to every other participant: 55 people is
about 150,000 packets a second, ten times what one worker core forwards. Silence carries
nothing, so in rooms where the congestion policy applies (more than five people) the fan-out
skips the audio of a publisher that has been silent for `hold` seconds. "Silent" is read from
the RFC 6464 level of its RTP packets before aiortc's jitter buffer, so the first sound of a
voice is seen tens of milliseconds before its frame reaches the fan-out: nothing is clipped.
A publisher whose packets carry no audio level is always forwarded (we cannot tell).

Pure: `now` passed in; `open_for` is called once per audio frame per publisher (not per
subscriber) and is two dictionary lookups.
"""

from __future__ import annotations

# -dBov: a muted browser track sends 127; 90 is far below any voice or room noise.
SILENCE_DBOV = 90
HOLD_SECONDS = 1.5


class AudioGate:
    def __init__(self, *, silence_dbov: int = SILENCE_DBOV, hold: float = HOLD_SECONDS) -> None:
        self.silence_dbov = silence_dbov
        self.hold = hold
        # Set by the congestion controller: only rooms the policy applies to are gated.
        self.enabled = False
        self._last_sound: dict[str, float] = {}
        self._with_levels: set[str] = set()

    def observe(self, participant_id: str, level: int, now: float) -> None:
        """One RTP packet's audio level (0 loudest … 127 silence)."""
        if participant_id not in self._with_levels:
            self._with_levels.add(participant_id)
        if level < self.silence_dbov:
            self._last_sound[participant_id] = now

    def forget(self, participant_id: str) -> None:
        self._with_levels.discard(participant_id)
        self._last_sound.pop(participant_id, None)

    def open_for(self, participant_id: str, now: float) -> bool:
        """Forward this publisher's audio frame now?"""
        if not self.enabled or participant_id not in self._with_levels:
            return True
        last = self._last_sound.get(participant_id)
        return last is not None and now - last <= self.hold
