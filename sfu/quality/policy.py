"""Which video a congested room gives up, and when: a pure policy, one per room, `now` passed in.

The worker calls `QualityPolicy.decide(now, signals)` about once a second with one sample per
subscriber and applies the `RoomDecision`. Audio is never touched here: every participant keeps
receiving the audio of every speaker; only video is given up, in a fixed order.

Judging one sample (no state needed for the first, see `congestion_reason`):
- a subscriber is *congested* if loss >= loss_high, or video frames were dropped for it, or its
  audio backlog > audio_backlog_high, or its REMB is known and below remb_ratio × the bitrate
  sent to it (when that is over remb_min_bps) while it reports some loss (>= loss_low); the
  reason is the first of "loss", "bandwidth", "queue" that applies;
- it is *clear* if loss < loss_low (or unknown), no drops, audio backlog <= audio_backlog_low
  and its REMB (if known) covers what it was sent just before it entered the step it is in
  (for a subscriber at NORMAL in a capped room, before the cap if it was congested then;
  otherwise what it is sent now). That figure is kept per subscriber and per step: after a
  degradation it is sent less, and comparing its REMB with that smaller figure would make it
  look clear and oscillate. Browsers only let their REMB grow to about 1.5 × what they receive,
  so a subscriber whose link is otherwise clean for remb_probe_after has that requirement
  waived (a probe: if video brings the congestion back, the doubled hold-off below applies);
- anything else is the *band*, and so is a subscriber without a sample: timers freeze there
  (they neither advance nor reset). A timer is credited with the interval since the previous
  sample only by a sample in its own state; a congested sample resets the clear timers, a
  clear one the congestion timer;
- the worker is *overloaded* when worker_cpu >= cpu_high, clear below cpu_low, band between.

Steps, when the room has at least min_participants (otherwise everything is NORMAL, no cap and
all state, hold-offs included, is forgotten; per-subscriber queues still protect audio):
1. LOWERED, room-wide: some subscriber congested or the worker overloaded for engage_after →
   publishers are asked for `cap` (room-pinned ones, interpreters and presenters, for the
   lighter `pinned_cap`, which keeps the frame rate sign language and lip-reading need).
   Congestion timers restart then: the next steps measure whether the cap was enough.
2. LAST_N, per subscriber: still congested for step_after while the cap is on → video only from
   the last_n most recent speakers (itself excluded), the room's pins and its own pins. A worker
   still overloaded step_after after the cap puts every subscriber at LAST_N ("cpu"); CPU never
   makes anyone audio-only (relieving a worker is the autoscaler's job).
3. AUDIO_ONLY, per subscriber: still congested for another step_after → no video at all, pinned
   participants included: it is what is left to protect that subscriber's audio.
Recovery goes back one step at a time: a subscriber clear for its hold-off (release_after) goes
down one step, each further step needs another hold-off of clear; the CPU's LAST_N ends once the
worker has been clear for its hold-off; the cap is released last, once nobody is above NORMAL
and the whole room (every sampled subscriber and the CPU) has been clear for the room's
hold-off since then. Each subscriber (one for both its steps: a link that proved unstable at
one step is not trusted sooner at the other), the cap and the CPU's LAST_N have their own
hold-off, release_after at first: the first engagement after a release, if it comes within
quick_reengage (2) × the hold-off, doubles it (up to max_release_after); one that comes more
than holdoff_decay_after (4 × max_release_after) later brings it back to release_after. So a
link whose clear spells are shorter than release_after is never released (at most three
changes however long it flaps: cap, LAST_N, AUDIO_ONLY), and one whose clear spells are shorter
than twice release_after is released at most once per subscriber and once for the cap before
the hold-offs outgrow its spells (at most seven changes). Slower recurrences (clear for longer
than 2 × the hold-off) are separate episodes, each answered on its own.
Joining participants start at NORMAL; the state of those who left is dropped. Same inputs, same
outputs: no clock, no randomness, iteration in the order of `participants`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

NORMAL, LOWERED, LAST_N, AUDIO_ONLY = 0, 1, 2, 3  # degradation steps, in order

_CONGESTED, _CLEAR, _BAND = "congested", "clear", "band"
_EPSILON = 1e-9  # timers add up sample intervals: 0.1 s steps must still reach 2.0 s


@dataclass(frozen=True)
class SubscriberSignals:
    """One sample per subscriber, about once a second."""

    participant_id: str
    loss: float | None = None  # fraction lost 0..1, worst over the streams sent to it (RR)
    rtt: float | None = None  # seconds
    jitter: float | None = None  # seconds
    remb_bps: float | None = None  # its latest REMB: what it estimates it can receive
    video_bps: float = 0.0  # video sent to it over the last sample interval
    audio_bps: float = 0.0
    video_drops: int = 0  # video frames dropped / queue overflows for it since the last sample
    audio_backlog: int = 0  # audio frames queued for it now
    pins: frozenset[str] = frozenset()  # participants this subscriber pinned


@dataclass(frozen=True)
class RoomSignals:
    participants: tuple[str, ...]  # every participant (publishers and subscribers are the same)
    subscribers: Mapping[str, SubscriberSignals]  # by participant id; may miss new ones
    speakers: tuple[str, ...] = ()  # active speakers, most recent first (sfu/quality/speakers.py)
    room_pins: frozenset[str] = frozenset()  # pinned for everyone by a moderator
    worker_cpu: float = 0.0  # fraction of one core used by the worker process


@dataclass(frozen=True)
class VideoCap:
    """What publishers are asked to send at step 1 (RTCRtpSender.setParameters, capped REMB)."""

    max_bitrate_bps: int
    scale_resolution_down_by: float
    max_framerate: float


@dataclass(frozen=True)
class SubscriberDecision:
    step: int  # NORMAL, LAST_N or AUDIO_ONLY (LOWERED is room-wide)
    video_from: frozenset[str] | None  # None: every publisher's video; else only these (camera
    # and screen share)
    reason: str  # "" or one of "loss", "bandwidth", "queue", "cpu"


@dataclass(frozen=True)
class RoomDecision:
    step: int  # the room's worst step: max(room step, every subscriber's step)
    publisher_cap: VideoCap | None  # None: publishers send what they like
    subscribers: Mapping[str, SubscriberDecision]  # every participant of the room
    reason: str
    congested: frozenset[str]  # subscribers judged congested at this sample (moderators' view)
    pinned_cap: VideoCap | None = None  # asked instead of publisher_cap of the `pinned` ones
    pinned: frozenset[str] = frozenset()  # room-pinned publishers (interpreter, presenter)

    def cap_for(self, participant_id: str) -> VideoCap | None:
        """What this publisher is asked to send (None: whatever it likes)."""
        if participant_id in self.pinned:
            return self.pinned_cap
        return self.publisher_cap


@dataclass(frozen=True)
class PolicyConfig:
    """Thresholds. Signals arrive about once a second (RTCP receiver reports every ~1 s)."""

    # The rule: rooms of five or fewer are never degraded by it.
    min_participants: int = 6
    # The current speaker and the two before: a conversation's faces for lip-reading.
    last_n: int = 3
    # Google congestion control's loss controller cuts its rate above 10 % and raises it only
    # below 2 %; at 5 % VP8 stalls on retransmissions and Opus (no NACK in aiortc) is hurt.
    loss_high: float = 0.05
    loss_low: float = 0.02
    # REMB 20 % under what is sent is a persistent shortfall, not estimator noise.
    remb_ratio: float = 0.8
    # Below this, REMB is not compared (audio alone, a trickle of video: nothing to save).
    remb_min_bps: float = 50_000.0
    # Audio frames queued at the SFU: 5 × 20 ms = 100 ms is abnormal (sfu/forwarding.py starts
    # dropping video at 15); one frame seen in the queue at sampling time is normal.
    audio_backlog_high: int = 5
    audio_backlog_low: int = 1
    # One worker per core: above 85 % its event loop delays packets; below 65 % (the
    # autoscaler's high water is 70 %) it has room again.
    cpu_high: float = 0.85
    cpu_low: float = 0.65
    # 2 s = three samples in a row: one bad report never degrades anything.
    engage_after: float = 2.0
    # Time for the publishers' encoders to follow the cap and for the receiver reports to show it.
    step_after: float = 3.0
    # Video comes back only after 10 s of calm per step: ten receiver reports in a row.
    release_after: float = 10.0
    # However often it flapped, a link calm for two minutes gets the next step back.
    max_release_after: float = 120.0
    # Re-engaging within this many hold-offs of a release doubles the hold-off: the release was
    # premature. Slower recurrences are separate episodes, each answered on its own.
    quick_reengage: float = 2.0
    # Engaging this long after the last release brings the hold-off back to release_after.
    holdoff_decay_after: float = 480.0  # 4 × max_release_after
    # A clean link whose REMB stays under the figure (browsers only let it grow to ~1.5 × what
    # they receive) gets its video back on trial after a minute.
    remb_probe_after: float = 60.0
    # 640x480 becomes 320x240 at 15 fps, 300 kbit/s: lips and hands stay readable (sign language
    # stays intelligible from 10–12 fps).
    cap: VideoCap = VideoCap(300_000, 2.0, 15.0)
    # Room-pinned publishers (sign-language interpreter, presenter): full resolution, 25 fps,
    # what ITU-T H-series Supplement 1 recommends for sign language and lip-reading.
    pinned_cap: VideoCap = VideoCap(500_000, 1.0, 25.0)

    def __post_init__(self) -> None:
        if self.min_participants < 1 or self.last_n < 0:
            raise ValueError("need min_participants >= 1 and last_n >= 0")
        if not 0 <= self.loss_low < self.loss_high:
            raise ValueError("need 0 <= loss_low < loss_high")
        if not 0 <= self.cpu_low < self.cpu_high:
            raise ValueError("need 0 <= cpu_low < cpu_high")
        if not 0 <= self.audio_backlog_low < self.audio_backlog_high:
            raise ValueError("need 0 <= audio_backlog_low < audio_backlog_high")
        if not 0 < self.release_after <= self.max_release_after:
            raise ValueError("need 0 < release_after <= max_release_after")
        if self.quick_reengage < 0 or self.holdoff_decay_after < 0:
            raise ValueError("need quick_reengage >= 0 and holdoff_decay_after >= 0")


def congestion_reason(sample: SubscriberSignals, config: PolicyConfig) -> str:
    """Why this sample shows congestion ("loss", "bandwidth", "queue"), "" if it does not."""
    if sample.loss is not None and sample.loss >= config.loss_high:
        return "loss"
    sent = sample.video_bps + sample.audio_bps
    if (
        sample.remb_bps is not None
        and sent > config.remb_min_bps
        and sample.remb_bps < config.remb_ratio * sent
        and sample.loss is not None
        and sample.loss >= config.loss_low
    ):
        # A short REMB alone proves nothing: aiortc's is one receiver's estimate of its own
        # stream, a browser's grows only to ~1.5 × what it receives, and both lag. Measured
        # (tests/sfu/test_congestion.py): unconstrained aiortc subscribers sent 2.2 Mbit/s
        # without loss reported 0.7–1.7 Mbit/s. With some loss it says the link is full.
        return "bandwidth"
    if sample.video_drops > 0 or sample.audio_backlog > config.audio_backlog_high:
        return "queue"
    return ""


def _clean_link(sample: SubscriberSignals, config: PolicyConfig) -> bool:
    """Clear apart from REMB."""
    return (
        (sample.loss is None or sample.loss < config.loss_low)
        and sample.video_drops == 0
        and sample.audio_backlog <= config.audio_backlog_low
    )


def _sent(sample: SubscriberSignals) -> float:
    return sample.video_bps + sample.audio_bps


class _Timer:
    """Seconds a condition has held, credited by the samples that show it."""

    __slots__ = ("elapsed",)

    def __init__(self) -> None:
        self.elapsed: float | None = None  # None: not running

    def run(self, dt: float) -> None:
        self.elapsed = 0.0 if self.elapsed is None else self.elapsed + dt

    def reset(self) -> None:
        self.elapsed = None

    def restart(self) -> None:
        """Measure again from this sample, if running."""
        if self.elapsed is not None:
            self.elapsed = 0.0

    def reached(self, seconds: float) -> bool:
        return self.elapsed is not None and self.elapsed >= seconds - _EPSILON


class _Holdoff:
    """Seconds of clear before a release: doubles on quick re-engagement, decays after calm."""

    __slots__ = ("config", "current", "released_at")

    def __init__(self, config: PolicyConfig) -> None:
        self.config = config
        self.current = config.release_after
        self.released_at: float | None = None

    def engage(self, now: float) -> None:
        """Judge the first engagement after a release (the next step of the same episode
        does not double it again)."""
        if self.released_at is None:
            return
        since = now - self.released_at
        if since < self.config.quick_reengage * self.current:
            self.current = min(2 * self.current, self.config.max_release_after)
        elif since >= self.config.holdoff_decay_after:
            self.current = self.config.release_after
        self.released_at = None

    def release(self, now: float) -> None:
        self.released_at = now


class _Subscriber:
    __slots__ = ("step", "reason", "congestion", "calm", "clean", "entry_bps", "holdoff", "pins")

    def __init__(self, config: PolicyConfig) -> None:
        self.step = NORMAL
        self.reason = ""
        self.congestion = _Timer()  # toward the next step
        self.calm = _Timer()  # toward the release of the current step
        self.clean = _Timer()  # clean link apart from REMB: toward the REMB probe
        # Bitrate sent to it just before it entered each step it is in (LOWERED: the room's
        # cap, recorded only if it was congested then).
        self.entry_bps: dict[int, float] = {}
        # One hold-off for both its steps: a link that proved unstable at one step is not
        # trusted sooner at the other.
        self.holdoff = _Holdoff(config)
        self.pins: frozenset[str] = frozenset()  # its last known pins


@dataclass
class _RoomState:
    config: PolicyConfig
    lowered: bool = False
    cap_reason: str = ""
    cpu_last_n: bool = False
    trouble: _Timer = field(default_factory=_Timer)  # toward the cap
    calm: _Timer = field(default_factory=_Timer)  # toward releasing the cap
    cpu_hot: _Timer = field(default_factory=_Timer)  # toward LAST_N for everyone
    cpu_calm: _Timer = field(default_factory=_Timer)
    subscribers: dict[str, _Subscriber] = field(default_factory=dict)
    cap_holdoff: _Holdoff = field(init=False)
    cpu_holdoff: _Holdoff = field(init=False)

    def __post_init__(self) -> None:
        self.cap_holdoff = _Holdoff(self.config)
        self.cpu_holdoff = _Holdoff(self.config)


_UNAFFECTED = SubscriberDecision(NORMAL, None, "")


class QualityPolicy:
    """One per room; keeps the timers. Pure: no I/O, no clock of its own."""

    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config or PolicyConfig()
        self._state = _RoomState(self.config)
        self._last_now: float | None = None

    def decide(self, now: float, signals: RoomSignals) -> RoomDecision:
        config = self.config
        participants = tuple(dict.fromkeys(signals.participants))
        dt = 0.0 if self._last_now is None else max(0.0, now - self._last_now)
        self._last_now = now
        samples = {
            pid: signals.subscribers[pid] for pid in participants if pid in signals.subscribers
        }
        congested = {
            pid: reason
            for pid, sample in samples.items()
            if (reason := congestion_reason(sample, config))
        }
        if len(participants) < config.min_participants:
            self._state = _RoomState(config)
            return RoomDecision(
                NORMAL,
                None,
                {pid: _UNAFFECTED for pid in participants},
                "",
                frozenset(congested),
            )
        state = self._state
        for pid in [pid for pid in state.subscribers if pid not in participants]:
            del state.subscribers[pid]
        for pid in participants:
            if pid not in state.subscribers:
                state.subscribers[pid] = _Subscriber(config)

        verdicts = {pid: self._judge(pid, samples.get(pid), congested, dt) for pid in participants}
        cpu = _BAND
        if signals.worker_cpu >= config.cpu_high:
            cpu = _CONGESTED
        elif signals.worker_cpu < config.cpu_low:
            cpu = _CLEAR
        if congested or cpu == _CONGESTED:
            room = _CONGESTED
        elif cpu == _CLEAR and all(verdicts[pid] == _CLEAR for pid in samples):
            room = _CLEAR
        else:
            room = _BAND
        _advance(state.trouble, state.calm, room, dt)  # room calm is corrected below
        _advance(state.cpu_hot, state.cpu_calm, cpu, dt)

        # Step 1: the cap.
        if not state.lowered and room == _CONGESTED and state.trouble.reached(config.engage_after):
            state.lowered = True
            state.cap_reason = "cpu" if cpu == _CONGESTED else next(iter(congested.values()))
            state.cap_holdoff.engage(now)
            for pid, subscriber in state.subscribers.items():
                subscriber.congestion.restart()
                if pid in congested:
                    subscriber.entry_bps[LOWERED] = _sent(samples[pid])
            state.cpu_hot.restart()

        # Steps 2 and 3, and their release, per subscriber.
        for pid in participants:
            subscriber = state.subscribers[pid]
            if (
                verdicts[pid] == _CONGESTED
                and state.lowered
                and subscriber.step < AUDIO_ONLY
                and subscriber.congestion.reached(config.step_after)
            ):
                step = LAST_N if subscriber.step == NORMAL else AUDIO_ONLY
                subscriber.entry_bps[step] = _sent(samples[pid])
                subscriber.step = step
                subscriber.reason = congested[pid]
                subscriber.holdoff.engage(now)
                subscriber.congestion.restart()
            elif (
                verdicts[pid] == _CLEAR
                and subscriber.step > NORMAL
                and subscriber.calm.reached(subscriber.holdoff.current)
            ):
                subscriber.holdoff.release(now)
                subscriber.entry_bps.pop(subscriber.step, None)
                subscriber.step = LAST_N if subscriber.step == AUDIO_ONLY else NORMAL
                if subscriber.step == NORMAL:
                    subscriber.reason = ""
                subscriber.calm.restart()

        # The CPU's LAST_N for everyone.
        if not state.cpu_last_n:
            if state.lowered and state.cpu_hot.reached(config.step_after):
                state.cpu_last_n = True
                state.cpu_holdoff.engage(now)
        elif cpu == _CLEAR and state.cpu_calm.reached(state.cpu_holdoff.current):
            state.cpu_last_n = False
            state.cpu_holdoff.release(now)

        # The cap goes last: the room's calm counts only while nobody is above NORMAL.
        if state.cpu_last_n or any(s.step > NORMAL for s in state.subscribers.values()):
            state.calm.reset()
        if state.lowered and room == _CLEAR and state.calm.reached(state.cap_holdoff.current):
            state.lowered = False
            state.cap_reason = ""
            state.cap_holdoff.release(now)
            for subscriber in state.subscribers.values():
                subscriber.entry_bps.pop(LOWERED, None)

        return self._decision(signals, participants, frozenset(congested))

    def _judge(
        self,
        pid: str,
        sample: SubscriberSignals | None,
        congested: Mapping[str, str],
        dt: float,
    ) -> str:
        """Classify one subscriber's sample and move its timers."""
        config = self.config
        subscriber = self._state.subscribers[pid]
        if sample is None:
            return _BAND
        subscriber.pins = sample.pins
        if pid in congested:
            subscriber.congestion.run(dt)
            subscriber.calm.reset()
            subscriber.clean.reset()
            return _CONGESTED
        clean = _clean_link(sample, config)
        if clean:
            subscriber.clean.run(dt)
        if clean and self._remb_covers(subscriber, sample):
            subscriber.congestion.reset()
            subscriber.calm.run(dt)
            return _CLEAR
        return _BAND

    def _remb_covers(self, subscriber: _Subscriber, sample: SubscriberSignals) -> bool:
        """Its REMB covers what it was sent before its current step (or is waived)."""
        config = self.config
        if sample.remb_bps is None or subscriber.clean.reached(config.remb_probe_after):
            return True
        if subscriber.step > NORMAL:
            needed = subscriber.entry_bps.get(subscriber.step, 0.0)
        elif self._state.lowered and LOWERED in subscriber.entry_bps:
            needed = subscriber.entry_bps[LOWERED]
        else:
            needed = _sent(sample)
        return needed <= config.remb_min_bps or sample.remb_bps >= needed

    def _decision(
        self, signals: RoomSignals, participants: tuple[str, ...], congested: frozenset[str]
    ) -> RoomDecision:
        config, state = self.config, self._state
        present = set(participants)
        speakers = [pid for pid in dict.fromkeys(signals.speakers) if pid in present]
        room_pins = frozenset(signals.room_pins) & present
        decisions: dict[str, SubscriberDecision] = {}
        worst = LOWERED if state.lowered else NORMAL
        reason = state.cap_reason
        for pid in participants:
            subscriber = state.subscribers[pid]
            step, why = subscriber.step, subscriber.reason
            if state.cpu_last_n and step < LAST_N:
                step, why = LAST_N, "cpu"
            if step == NORMAL:
                decisions[pid] = _UNAFFECTED
                continue
            video_from: frozenset[str] = frozenset()
            if step == LAST_N:
                recent = [speaker for speaker in speakers if speaker != pid][: config.last_n]
                pinned = room_pins | (subscriber.pins & present)
                video_from = (frozenset(recent) | pinned) - {pid}
            decisions[pid] = SubscriberDecision(step, video_from, why)
            if step > worst:
                worst, reason = step, why
        return RoomDecision(
            worst,
            config.cap if state.lowered else None,
            decisions,
            reason,
            congested,
            pinned_cap=config.pinned_cap if state.lowered else None,
            pinned=room_pins if state.lowered else frozenset(),
        )


def _advance(toward_trouble: _Timer, toward_calm: _Timer, verdict: str, dt: float) -> None:
    if verdict == _CONGESTED:
        toward_trouble.run(dt)
        toward_calm.reset()
    elif verdict == _CLEAR:
        toward_trouble.reset()
        toward_calm.run(dt)
