"""Active speakers from RFC 6464 audio levels (sfu/quality/speakers.py), `now` explicit."""

import pytest

from sfu.quality.speakers import ActiveSpeakers

LOUD, SILENT = 30, 127  # -dBov: 0 is the loudest


def feed(speakers, levels, start, end, rate=50):
    """Every participant of `levels` sends a packet every 1/rate s in [start, end); its level is
    `levels[pid]`, or `levels[pid](t)`."""
    for i in range(round(start * rate), round(end * rate)):
        t = i / rate
        for pid, level in levels.items():
            speakers.observe(pid, level(t) if callable(level) else level, t)


def between(start, end, inside=LOUD, outside=SILENT):
    return lambda t: inside if start <= t < end else outside


def test_most_recently_active_first_then_past_speakers_then_the_silent():
    speakers = ActiveSpeakers()
    feed(
        speakers,
        {"silent": SILENT, "p1": between(0, 2), "p2": between(3, 5), "p3": between(6, 7)},
        0,
        10,
    )
    # Nobody speaks at 10: those who spoke, most recent first; the silent one last.
    assert speakers.ranking(10) == ("p3", "p2", "p1", "silent")
    assert speakers.speaking(10) == ()
    feed(speakers, {"silent": SILENT, "p1": LOUD, "p2": SILENT, "p3": SILENT}, 10, 11)
    assert speakers.ranking(11) == ("p1", "p3", "p2", "silent")
    assert speakers.speaking(11) == ("p1",)


def test_participants_never_active_come_in_order_of_first_observation():
    speakers = ActiveSpeakers()
    feed(speakers, {"c": SILENT}, 0, 1)
    feed(speakers, {"a": SILENT, "c": SILENT}, 1, 2)
    feed(speakers, {"b": 80, "a": SILENT, "c": SILENT}, 2, 3)
    assert speakers.ranking(3) == ("c", "a", "b")
    assert speakers.speaking(3) == ()


def test_the_threshold_is_inclusive_and_half_the_packets_must_reach_it():
    speakers = ActiveSpeakers(threshold_dbov=50)
    feed(speakers, {"at": 50, "under": 51}, 0, 2)
    assert speakers.speaking(2) == ("at",)

    # 40 packets a second, 20 per window. Every other packet loud: half, active. Two in five:
    # not.
    speakers = ActiveSpeakers(window=0.5)
    levels = {
        "half": lambda t: LOUD if round(t * 40) % 2 else SILENT,
        "two_in_five": lambda t: LOUD if round(t * 40) % 5 < 2 else SILENT,
    }
    feed(speakers, levels, 0, 2, rate=40)
    assert speakers.speaking(2) == ("half",)


def test_activity_shows_within_one_window():
    speakers = ActiveSpeakers(window=0.5)
    feed(speakers, {"p1": between(10, 20)}, 0, 10.5)
    assert speakers.speaking(10.48) == ()  # the window opened at 10.0 is still open
    assert speakers.speaking(10.5) == ("p1",)


def test_hold_bridges_pauses_then_ends_the_turn():
    speakers = ActiveSpeakers(hold=1.0, window=0.5)
    feed(speakers, {"p1": between(0, 2), "p2": SILENT}, 0, 2.9)
    # The last loud window ended with the packet at 1.98: speaking until 1 s after it.
    assert speakers.speaking(2.9) == ("p1",)
    feed(speakers, {"p1": SILENT, "p2": SILENT}, 2.9, 3.0)
    assert speakers.speaking(3.0) == ()
    feed(speakers, {"p1": SILENT, "p2": SILENT}, 3.0, 4)
    assert speakers.ranking(4) == ("p1", "p2")  # still first, as a past speaker


def test_simultaneous_speakers_keep_their_order_during_their_turns():
    speakers = ActiveSpeakers()
    feed(speakers, {"p1": LOUD, "p2": between(1, 60)}, 0, 1)
    orders = set()
    for second in range(1, 30):
        feed(speakers, {"p1": LOUD, "p2": LOUD}, second, second + 1)
        orders.add(speakers.ranking(second + 1))
    # p2's turn began last: first, and it stays so while both speak.
    assert orders == {("p2", "p1")}


def test_a_short_pause_continues_a_turn_a_long_one_starts_a_new_one():
    def scenario(pause_end):
        speakers = ActiveSpeakers(hold=1.0)
        p1 = lambda t: LOUD if t < 2 or t >= pause_end else SILENT  # noqa: E731
        feed(speakers, {"p1": p1, "p2": between(1, 60)}, 0, 6)
        return speakers.ranking(6)

    # A 0.5 s pause: p1's turn still began at 0, before p2's.
    assert scenario(2.5) == ("p2", "p1")
    # A 2 s pause: p1 starts a new turn at 4, after p2's.
    assert scenario(4.0) == ("p1", "p2")


def test_a_participant_whose_packets_stop_is_judged_on_time():
    speakers = ActiveSpeakers()
    feed(speakers, {"p1": LOUD}, 0, 0.3)  # then nothing (muted, or discontinuous transmission)
    feed(speakers, {"p2": SILENT}, 0, 0.6)
    assert speakers.speaking(0.6) == ("p1",)
    feed(speakers, {"p2": SILENT}, 0.6, 2)
    assert speakers.speaking(2.0) == ()
    feed(speakers, {"p2": SILENT}, 2, 3)
    assert speakers.ranking(3) == ("p1", "p2")


def test_forget_removes_a_participant_and_a_return_counts_as_new():
    speakers = ActiveSpeakers()
    feed(speakers, {"p1": LOUD, "p2": SILENT, "p3": SILENT}, 0, 2)
    speakers.forget("p1")
    speakers.forget("never-seen")  # harmless
    assert speakers.ranking(2) == ("p2", "p3")
    feed(speakers, {"p1": SILENT, "p2": SILENT, "p3": SILENT}, 2, 3)
    assert speakers.ranking(3) == ("p2", "p3", "p1")  # its past activity is forgotten too


def test_equal_histories_rank_by_first_observation():
    speakers = ActiveSpeakers()
    feed(speakers, {"b": LOUD, "a": LOUD}, 0, 2)
    assert speakers.ranking(2) == ("b", "a")


def test_two_instances_fed_the_same_packets_rank_the_same():
    script = {
        "p1": lambda t: LOUD if int(t * 3) % 4 == 0 else SILENT,
        "p2": lambda t: LOUD if int(t) % 5 < 2 else 90,
        "p3": lambda t: 45 if int(t * 7) % 3 else SILENT,
        "p4": SILENT,
    }
    first, second = ActiveSpeakers(), ActiveSpeakers()
    rankings = []
    for speakers in (first, second):
        feed(speakers, script, 0, 20)
        rankings.append([speakers.ranking(20 + i / 10) for i in range(10)])
    assert rankings[0] == rankings[1]


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError):
        ActiveSpeakers(threshold_dbov=128)
    with pytest.raises(ValueError):
        ActiveSpeakers(window=0)
    with pytest.raises(ValueError):
        ActiveSpeakers(hold=-1)
