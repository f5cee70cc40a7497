"""The quality policy (sfu/quality/policy.py) on scripted timelines of signals, `now` explicit.

Defaults: engage_after 2 s, step_after 3 s, release_after 10 s, one sample a second.
"""

import pytest

from sfu.quality.policy import (
    AUDIO_ONLY,
    LAST_N,
    LOWERED,
    NORMAL,
    PolicyConfig,
    QualityPolicy,
    RoomSignals,
    SubscriberDecision,
    SubscriberSignals,
    congestion_reason,
)

# A healthy subscriber: no loss, REMB well above the 1.54 Mbit/s it is sent.
GOOD = dict(loss=0.0, rtt=0.05, jitter=0.005, remb_bps=4e6, video_bps=1.5e6, audio_bps=40e3)
LOSSY = dict(loss=0.10)
IN_BAND = dict(loss=0.03)  # between loss_low (2 %) and loss_high (5 %)


def people(n):
    return tuple(f"p{i}" for i in range(1, n + 1))


def room(n=6, bad=None, *, speakers=(), room_pins=(), pins=None, cpu=0.0, missing=()):
    """One sample of a room of `n`: everyone GOOD except the overrides in `bad`."""
    bad, pins = bad or {}, pins or {}
    samples = {
        pid: SubscriberSignals(
            pid, **{**GOOD, **bad.get(pid, {})}, pins=frozenset(pins.get(pid, ()))
        )
        for pid in people(n)
        if pid not in missing
    }
    return RoomSignals(people(n), samples, tuple(speakers), frozenset(room_pins), cpu)


def run(script, until, *, policy=None, start=0, tick=1.0):
    """Call `script(t, previous_decision)` every `tick` from `start` to `until` included,
    feed the policy and return {t: decision}."""
    policy = policy or QualityPolicy()
    decisions, previous = {}, None
    for i in range(round((until - start) / tick) + 1):
        t = start + i * tick
        previous = decisions[t] = policy.decide(t, script(t, previous))
    return decisions


def changes(decisions, of):
    """[(t, value)] at the first sample and whenever `of(decision)` changes."""
    out = []
    for t, decision in decisions.items():
        value = of(decision)
        if not out or out[-1][1] != value:
            out.append((t, value))
    return out


def room_step(decision):
    return decision.step


def capped(decision):
    return decision.publisher_cap is not None


def step_of(pid):
    return lambda decision: decision.subscribers[pid].step


def step_changes(decisions):
    """Every change of the cap or of a subscriber's step between consecutive samples."""
    count, previous = 0, None
    for decision in decisions.values():
        if previous is not None:
            count += capped(decision) != capped(previous)
            count += sum(
                decision.subscribers[pid].step != previous.subscribers[pid].step
                for pid in decision.subscribers.keys() & previous.subscribers.keys()
            )
        previous = decision
    return count


def lossy_during(*spans, who="p1", n=6, **options):
    """p1 (or `who`) has 10 % loss during the half-open spans [a, b)."""

    def script(t, _previous):
        bad = {who: LOSSY} if any(a <= t < b for a, b in spans) else {}
        return room(n, bad, **options)

    return script


# The boundary


def test_five_participants_are_never_degraded_however_bad():
    awful = dict(loss=0.5, video_drops=30, audio_backlog=40, remb_bps=10e3)

    def script(t, _):
        return room(5, {pid: awful for pid in people(5)}, cpu=1.0)

    decisions = run(script, 120)
    for decision in decisions.values():
        assert decision.step == NORMAL and decision.publisher_cap is None
        assert set(decision.subscribers.values()) == {SubscriberDecision(NORMAL, None, "")}
        assert decision.congested == frozenset(people(5))  # still shown to moderators


def test_six_participants_are_degraded_step_by_step():
    decisions = run(lossy_during((0, 1000)), 30)
    assert changes(decisions, room_step) == [
        (0, NORMAL),
        (2, LOWERED),
        (5, LAST_N),
        (8, AUDIO_ONLY),
    ]
    assert changes(decisions, capped) == [(0, False), (2, True)]
    assert decisions[2].reason == "loss" and decisions[8].subscribers["p1"].reason == "loss"
    assert decisions[8].subscribers["p1"].video_from == frozenset()
    for pid in people(6)[1:]:
        assert all(
            d.subscribers[pid] == SubscriberDecision(NORMAL, None, "") for d in decisions.values()
        )


def test_step_1_engages_at_engage_after_and_not_before():
    decisions = run(lossy_during((10, 1000)), 13, tick=0.5)
    assert changes(decisions, capped) == [(0, False), (12.0, True)]
    assert decisions[11.5].publisher_cap is None
    assert decisions[12].publisher_cap == PolicyConfig().cap


def test_a_single_bad_sample_or_two_engage_nothing():
    for spans in [((5, 6),), ((5, 7),), ((5, 6), (7, 8), (9, 10))]:
        decisions = run(lossy_during(*spans), 60)
        assert changes(decisions, room_step) == [(0, NORMAL)], spans
    # Three bad samples in a row are 2 s of congestion: the cap.
    assert changes(run(lossy_during((5, 8)), 60), capped)[:2] == [(0, False), (7, True)]


def test_step_2_only_for_the_congested_and_step_3_for_the_one_still_congested():
    # p1 stays congested; p2 is congested too but clears 3 s after the cap (step_after not met).
    def script(t, _):
        bad = {"p1": LOSSY}
        if t < 5:
            bad["p2"] = dict(video_drops=3)
        if 20 <= t < 100:
            bad["p3"] = dict(audio_backlog=12)  # under the cap already: step_after, then LAST_N
        return room(6, bad)

    decisions = run(script, 40)
    assert changes(decisions, step_of("p1")) == [(0, NORMAL), (5, LAST_N), (8, AUDIO_ONLY)]
    assert changes(decisions, step_of("p2")) == [(0, NORMAL)]
    assert changes(decisions, step_of("p3")) == [(0, NORMAL), (23, LAST_N), (26, AUDIO_ONLY)]
    assert decisions[23].subscribers["p3"].reason == "queue"
    for pid in ("p2", "p4", "p5", "p6"):
        assert all(d.subscribers[pid].video_from is None for d in decisions.values())
    assert decisions[6].congested == {"p1"} and decisions[21].congested == {"p1", "p3"}


def test_last_n_forwards_recent_speakers_without_itself_plus_pins():
    options = dict(speakers=("p3", "p1", "p5", "p4", "p2"), room_pins={"p6"}, pins={"p1": {"p2"}})
    decisions = run(lossy_during((0, 7), **options), 6)
    last_n = decisions[5].subscribers["p1"]
    assert last_n.step == LAST_N
    # The first three speakers other than p1, the room's pin, p1's own pin.
    assert last_n.video_from == frozenset({"p3", "p5", "p4", "p6", "p2"})

    # Speakers order decides who is in the last three; pins are kept whoever speaks.
    options = dict(speakers=("p2", "p4", "p1", "p3", "p5"), room_pins={"p6"}, pins={"p1": {"p5"}})
    last_n = run(lossy_during((0, 7), **options), 6)[5].subscribers["p1"]
    assert last_n.video_from == frozenset({"p2", "p4", "p3", "p6", "p5"})

    # A pin of oneself or of someone who is not in the room is ignored.
    options = dict(speakers=("p2",), room_pins={"p1", "ghost"}, pins={"p1": {"p1", "gone"}})
    last_n = run(lossy_during((0, 7), **options), 6)[5].subscribers["p1"]
    assert last_n.video_from == frozenset({"p2"})


def test_audio_only_drops_pinned_video_too():
    options = dict(speakers=("p2",), room_pins={"p6"}, pins={"p1": {"p3"}})
    decision = run(lossy_during((0, 100), **options), 8)[8]
    assert decision.subscribers["p1"] == SubscriberDecision(AUDIO_ONLY, frozenset(), "loss")


def test_room_pinned_publishers_are_asked_for_the_lighter_cap():
    decisions = run(lossy_during((0, 100), room_pins={"p6"}), 3)
    config = PolicyConfig()
    assert decisions[1].cap_for("p6") is None and decisions[1].cap_for("p2") is None
    assert decisions[2].cap_for("p6") == config.pinned_cap
    assert decisions[2].cap_for("p2") == decisions[2].publisher_cap == config.cap
    assert config.pinned_cap.max_framerate >= 25 and config.cap.max_framerate >= 12


# Recovery


def test_recovery_goes_subscribers_first_cap_last_one_step_per_hold_off():
    decisions = run(lossy_during((0, 20)), 80)
    assert changes(decisions, room_step) == [
        (0, NORMAL),
        (2, LOWERED),
        (5, LAST_N),
        (8, AUDIO_ONLY),
        (30, LAST_N),  # clear from 20: 10 s
        (40, LOWERED),  # another 10 s
        (50, NORMAL),  # the cap last, 10 s after nobody is above NORMAL
    ]
    assert changes(decisions, capped) == [(0, False), (2, True), (50, False)]
    assert decisions[30].subscribers["p1"].reason == "loss"
    assert decisions[40].subscribers["p1"] == SubscriberDecision(NORMAL, None, "")


def test_the_hysteresis_band_neither_engages_nor_releases():
    # 3 % loss for ever: never congested.
    decisions = run(lambda t, _: room(6, {"p1": IN_BAND}), 120)
    assert changes(decisions, room_step) == [(0, NORMAL)]
    # Degraded, then 3 % loss: never clear, stays degraded.
    decisions = run(lambda t, _: room(6, {"p1": LOSSY if t < 10 else IN_BAND}), 200)
    assert changes(decisions, room_step)[-1] == (8, AUDIO_ONLY)


def test_the_band_freezes_a_running_timer_and_a_clear_sample_resets_it():
    # Congested at 0 and 1 (1 s), in the band from 2 to 8, congested again from 9, which
    # credits the second since 8: 2 s, the cap at 9.
    def frozen(t, _):
        return room(6, {"p1": LOSSY if t < 2 or t >= 9 else IN_BAND})

    assert changes(run(frozen, 20), capped) == [(0, False), (9, True)]

    # Clear samples instead restart the count: 9, 10, 11.
    def reset(t, _):
        return room(6, {"p1": LOSSY if t < 2 or t >= 9 else {}})

    assert changes(run(reset, 20), capped) == [(0, False), (11, True)]


def test_a_missing_sample_is_neither_congested_nor_clear():
    def script(t, _):
        if t < 10:
            return room(6, {"p1": LOSSY})
        return room(6, missing={"p1"} if t < 60 else ())

    decisions = run(script, 100)
    # Held at AUDIO_ONLY while p1 reports nothing; recovery starts with its first clear sample.
    assert changes(decisions, step_of("p1")) == [
        (0, NORMAL),
        (5, LAST_N),
        (8, AUDIO_ONLY),
        (70, LAST_N),
        (80, NORMAL),
    ]
    assert changes(decisions, capped) == [(0, False), (2, True), (90, False)]


BAD_P1, ALL_GOOD = room(6, {"p1": LOSSY}), room(6)  # built once: the sweeps run thousands


def test_flapping_faster_than_the_hold_off_never_releases():
    """Clear spells shorter than release_after: the three engagements and nothing else."""
    for congested in range(1, 9):
        for clear in range(1, 11):  # samples, so at most 9 s of calm

            def script(t, _, period=congested + clear, congested=congested):
                return BAD_P1 if t % period < congested else ALL_GOOD

            decisions = run(script, 120)
            assert step_changes(decisions) <= 3, (congested, clear)
            if congested >= 4:  # long enough to climb a step after the cap
                assert changes(decisions, room_step)[-1][1] == AUDIO_ONLY
            flaps = changes(decisions, lambda d: bool(d.congested))
            assert len(flaps) >= 12


def test_a_link_flapping_every_five_seconds_for_two_minutes():
    decisions = run(lambda t, _: room(6, {"p1": LOSSY} if t % 10 < 5 else {}), 120)
    assert step_changes(decisions) == 3  # 24 flaps
    assert changes(decisions, room_step) == [
        (0, NORMAL),
        (2, LOWERED),
        (13, LAST_N),
        (23, AUDIO_ONLY),
    ]


def test_flapping_slower_the_doubled_hold_off_bounds_the_changes():
    """Clear spells shorter than twice release_after: one release per subscriber and one for
    the cap before the hold-off doubles past the spell: at most 7 changes, however long."""
    for congested in range(1, 11):
        for clear in range(11, 21):  # samples: 10 to 19 s of calm

            def script(t, _, period=congested + clear, congested=congested):
                return BAD_P1 if t % period < congested else ALL_GOOD

            decisions = run(script, 300)
            assert step_changes(decisions) <= 7, (congested, clear)


def test_quick_re_engagement_doubles_the_hold_off_and_it_decays_after_long_calm():
    # Congested 0–9: back to NORMAL at 30, cap released at 40. Congested again from 42.
    spans = ((0, 10), (42, 60))
    decisions = run(lossy_during(*spans), 200)
    # The cap comes back 4 s after its release, LAST_N 17 s after (< 2 × 10 s): both hold-offs
    # double to 20 s, once for the whole episode (AUDIO_ONLY does not double it again).
    assert changes(decisions, step_of("p1")) == [
        (0, NORMAL),
        (5, LAST_N),
        (8, AUDIO_ONLY),
        (20, LAST_N),
        (30, NORMAL),
        (47, LAST_N),
        (50, AUDIO_ONLY),
        (80, LAST_N),
        (100, NORMAL),
    ]
    assert changes(decisions, capped) == [
        (0, False),
        (2, True),
        (40, False),
        (44, True),
        (120, False),
    ]

    # Another episode at 300, 180 s after: not quick, not long either: 20 s kept.
    decisions = run(lossy_during(*spans, (300, 310)), 400)
    assert changes(decisions, step_of("p1"))[-4:] == [
        (305, LAST_N),
        (308, AUDIO_ONLY),
        (330, LAST_N),
        (350, NORMAL),
    ]
    assert changes(decisions, capped)[-2:] == [(302, True), (370, False)]

    # More than 4 × max_release_after after the last release: back to 10 s.
    decisions = run(lossy_during(*spans, (700, 710)), 800)
    assert changes(decisions, step_of("p1"))[-4:] == [
        (705, LAST_N),
        (708, AUDIO_ONLY),
        (720, LAST_N),
        (730, NORMAL),
    ]
    assert changes(decisions, capped)[-2:] == [(702, True), (740, False)]


# REMB: the figure at step-up, and the probe


def link_of(capacity_bps, *, cpu=lambda t: 0.0, capped_video=2e6):
    """p1's downlink carries `capacity_bps(t)`: its REMB says so, and what it is sent follows the
    policy's previous decision: 2 Mbit/s of video at NORMAL (`capped_video` once publishers are
    capped: many publishers already at the cap send as much), 800 kbit/s at LAST_N, none at
    AUDIO_ONLY."""
    video = {NORMAL: 2e6, LAST_N: 800e3, AUDIO_ONLY: 0.0}

    def script(t, previous):
        step = previous.subscribers["p1"].step if previous else NORMAL
        sent = video[step]
        if step == NORMAL and previous and capped(previous):
            sent = capped_video
        # A link asked to carry more than its capacity loses some of it (in the band: the
        # REMB shortfall is what makes it congested).
        loss = 0.03 if sent + 40e3 > capacity_bps(t) else 0.0
        p1 = dict(remb_bps=capacity_bps(t), video_bps=sent, audio_bps=40e3, loss=loss)
        return room(6, {"p1": p1}, cpu=cpu(t))

    return script


def test_remb_below_what_full_video_needs_holds_the_step():
    decisions = run(link_of(lambda t: 1e6), 75)
    # 1 Mbit/s < 0.8 × 2.04 Mbit/s: congested ("bandwidth"). At LAST_N it is sent 840 kbit/s,
    # which its REMB covers, but not the 2.04 Mbit/s it was sent at step-up: no release.
    assert changes(decisions, step_of("p1")) == [(0, NORMAL), (5, LAST_N)]
    assert decisions[5].subscribers["p1"].reason == "bandwidth"
    assert all(not d.congested for t, d in decisions.items() if t >= 6)


def test_the_step_up_figure_holds_even_when_the_cap_came_from_elsewhere():
    # The CPU caps the room at 2 (and recovers at 4); p1's link shrinks at 3, so it was not
    # congested when the cap came and only the figure of its own step-up holds it at LAST_N.
    script = link_of(lambda t: 4e6 if t < 3 else 1e6, cpu=lambda t: 0.95 if t < 4 else 0.2)
    decisions = run(script, 70)
    assert decisions[2].reason == "cpu"
    assert changes(decisions, step_of("p1")) == [(0, NORMAL), (6, LAST_N)]
    assert changes(decisions, capped) == [(0, False), (2, True)]


def test_the_cap_is_not_released_while_remb_is_below_what_uncapped_video_needs():
    # 1.5 Mbit/s: too small for 2.04 Mbit/s, enough once capped (1.04 Mbit/s). Releasing the cap
    # on the capped figure would bring the congestion back at once.
    decisions = run(link_of(lambda t: 1.5e6, capped_video=1e6), 60)
    assert changes(decisions, capped) == [(0, False), (2, True)]
    assert changes(decisions, room_step) == [(0, NORMAL), (2, LOWERED)]
    # When the link grows to what uncapped video needs, the cap goes 10 s later.
    decisions = run(link_of(lambda t: 1.5e6 if t < 30 else 2.5e6, capped_video=1e6), 60)
    assert changes(decisions, capped) == [(0, False), (2, True), (40, False)]


def test_remb_covering_the_step_up_figure_releases_after_the_hold_off():
    decisions = run(link_of(lambda t: 1e6 if t < 30 else 2.5e6), 60)
    assert changes(decisions, step_of("p1")) == [(0, NORMAL), (5, LAST_N), (40, NORMAL)]
    assert changes(decisions, capped) == [(0, False), (2, True), (50, False)]


def test_a_clean_link_gets_video_back_on_trial_after_remb_probe_after():
    decisions = run(link_of(lambda t: 1e6), 200)
    # Clean from 6: the REMB requirement is waived at 66, released 10 s later; the link really
    # is too small, so LAST_N comes back at 80 (quick: hold-off 20 s), next trial at 141 + 20.
    assert changes(decisions, step_of("p1")) == [
        (0, NORMAL),
        (5, LAST_N),
        (76, NORMAL),
        (80, LAST_N),
        (161, NORMAL),
        (165, LAST_N),
    ]
    # Without the trial the figure holds for good.
    config = PolicyConfig(remb_probe_after=float("inf"))
    decisions = run(link_of(lambda t: 1e6), 300, policy=QualityPolicy(config))
    assert changes(decisions, step_of("p1")) == [(0, NORMAL), (5, LAST_N)]


# The worker's CPU


def test_cpu_overload_caps_then_last_n_for_everyone_then_releases():
    speakers = ("p2", "p3", "p4", "p5")

    def script(t, _):
        cpu = 0.95 if t < 30 else (0.75 if t < 35 else 0.5)  # 0.75: the band
        return room(6, speakers=speakers, cpu=cpu)

    decisions = run(script, 80)
    assert changes(decisions, capped) == [(0, False), (2, True), (55, False)]
    assert changes(decisions, room_step) == [
        (0, NORMAL),
        (2, LOWERED),
        (5, LAST_N),
        (45, LOWERED),
        (55, NORMAL),
    ]
    assert decisions[2].reason == "cpu"
    during = decisions[5]
    assert during.reason == "cpu" and not during.congested
    for pid in people(6):
        assert during.subscribers[pid].step == LAST_N
        assert during.subscribers[pid].reason == "cpu"
    assert during.subscribers["p1"].video_from == frozenset({"p2", "p3", "p4"})
    assert during.subscribers["p3"].video_from == frozenset({"p2", "p4", "p5"})
    # CPU never makes anyone audio-only.
    assert all(d.step <= LAST_N for d in decisions.values())


def test_a_congested_subscriber_keeps_its_own_reason_and_steps_under_cpu_overload():
    decisions = run(lambda t, _: room(6, {"p1": LOSSY}, cpu=0.95), 10)
    assert decisions[5].subscribers["p1"] == SubscriberDecision(LAST_N, frozenset(), "loss")
    assert decisions[5].subscribers["p2"].reason == "cpu"
    assert decisions[8].subscribers["p1"].step == AUDIO_ONLY
    assert decisions[8].subscribers["p2"].step == LAST_N


# Comings and goings


def test_dropping_to_five_participants_ends_every_degradation_at_once():
    def script(t, _):
        n = 5 if 20 <= t < 30 else 6
        return room(n, {"p1": LOSSY}, speakers=("p2",))

    decisions = run(script, 40)
    assert decisions[19].step == AUDIO_ONLY
    assert decisions[20].step == NORMAL and decisions[20].publisher_cap is None
    assert all(d.video_from is None for d in decisions[20].subscribers.values())
    # Back to six: everything starts afresh (no doubled hold-off, fresh timers).
    assert changes(decisions, room_step)[-4:] == [
        (20, NORMAL),
        (32, LOWERED),
        (35, LAST_N),
        (38, AUDIO_ONLY),
    ]


def test_joining_and_leaving_participants():
    def script(t, _):
        n = 8 if 10 <= t < 20 else 7  # p8 joins at 10 and leaves at 20
        p1 = LOSSY if t < 6 else (IN_BAND if t < 30 else {})  # held at LAST_N until 30
        return room(n, {"p1": p1}, speakers=("p8", "p2"))

    decisions = run(script, 60)
    assert set(decisions[10].subscribers) == set(people(8))
    assert decisions[10].subscribers["p8"] == SubscriberDecision(NORMAL, None, "")
    # p1 at LAST_N gets the newcomer's video while it speaks, and not after it left.
    assert decisions[9].subscribers["p1"].video_from == frozenset({"p2"})
    assert decisions[10].subscribers["p1"].video_from == frozenset({"p8", "p2"})
    assert set(decisions[20].subscribers) == set(people(7))
    assert decisions[20].subscribers["p1"].video_from == frozenset({"p2"})
    # p1's state survived the others' comings and goings.
    assert changes(decisions, step_of("p1")) == [(0, NORMAL), (5, LAST_N), (40, NORMAL)]
    assert changes(decisions, capped) == [(0, False), (2, True), (50, False)]


def test_a_leaving_participant_drops_out_of_video_from():
    def script(t, _):
        n = 7 if t < 6 else 6  # p7, a recent speaker and pinned, leaves at 6
        return room(n, {"p1": LOSSY}, speakers=("p7", "p2"), room_pins={"p7"})

    decisions = run(script, 7)
    assert decisions[5].subscribers["p1"].video_from == frozenset({"p7", "p2"})
    assert decisions[6].subscribers["p1"].video_from == frozenset({"p2"})


# Determinism and signals


def test_two_policies_fed_the_same_script_decide_the_same():
    def script(t, previous):
        bad = {}
        if t % 17 < 6:
            bad["p1"] = LOSSY
        if 30 <= t < 90:
            bad["p2"] = dict(remb_bps=500e3)
        if t % 29 < 4:
            bad["p3"] = dict(video_drops=2)
        speakers = ("p4", "p2", "p6", "p5") if t % 7 < 3 else ("p6", "p5", "p1")
        return room(6 + (t >= 100), bad, speakers=speakers, cpu=0.9 if 60 <= t < 70 else 0.2)

    first = run(script, 200, tick=0.5)
    second = run(script, 200, tick=0.5)
    assert first == second
    assert step_changes(first) > 0
    for decision in first.values():
        assert isinstance(decision.congested, frozenset)
        for subscriber in decision.subscribers.values():
            assert subscriber.video_from is None or isinstance(subscriber.video_from, frozenset)


def test_congestion_reasons():
    config = PolicyConfig()

    def reason(**fields):
        return congestion_reason(SubscriberSignals("p1", **{**GOOD, **fields}), config)

    assert reason() == ""
    assert reason(loss=None, remb_bps=None) == ""
    assert reason(loss=0.05) == "loss"
    assert reason(loss=0.049) == ""
    # < 0.8 × 1.54 Mbit/s, and some loss: the link is full.
    assert reason(remb_bps=1.2e6, loss=0.02) == "bandwidth"
    assert reason(remb_bps=1.3e6, loss=0.02) == ""
    # A short REMB without loss proves nothing (aiortc's per-stream estimates, browsers' caps).
    assert reason(remb_bps=1.2e6) == ""
    # A trickle (audio only) is not judged on REMB.
    assert reason(remb_bps=10e3, video_bps=0.0, audio_bps=40e3) == ""
    assert reason(video_drops=1) == "queue"
    assert reason(audio_backlog=6) == "queue" and reason(audio_backlog=5) == ""


def test_invalid_configurations_are_refused():
    for bad in (
        dict(loss_low=0.05, loss_high=0.05),
        dict(cpu_low=0.9, cpu_high=0.85),
        dict(release_after=200.0),
        dict(audio_backlog_low=5, audio_backlog_high=5),
    ):
        with pytest.raises(ValueError):
            PolicyConfig(**bad)
