"""Cameras nobody receives are paused after a hold, resumed at once (sfu/quality/unwatched.py)."""

from sfu.quality.policy import AUDIO_ONLY, LAST_N, NORMAL, RoomDecision, SubscriberDecision
from sfu.quality.unwatched import UnwatchedCameras, watched_cameras

PEOPLE = tuple(f"p{n}" for n in range(1, 8))


def decision(**subscribers: SubscriberDecision) -> RoomDecision:
    everyone = {pid: SubscriberDecision(NORMAL, None, "") for pid in PEOPLE}
    everyone.update(subscribers)
    return RoomDecision(
        step=max(sub.step for sub in everyone.values()),
        publisher_cap=None,
        subscribers=everyone,
        reason="",
        congested=frozenset(),
    )


def last_n(*sources: str) -> RoomDecision:
    """Everyone at step 2, receiving video only from `sources`."""
    return decision(
        **{pid: SubscriberDecision(LAST_N, frozenset(sources), "cpu") for pid in PEOPLE}
    )


def test_at_last_n_only_the_received_cameras_are_watched():
    assert watched_cameras(last_n("p1", "p2"), PEOPLE, frozenset()) == {"p1", "p2"}
    # p1 does not receive itself: with only p1 in everyone's last-N, p1 is still watched by
    # the others, and nobody else is.
    assert watched_cameras(last_n("p1"), PEOPLE, frozenset()) == {"p1"}


def test_without_degradation_every_camera_is_watched():
    assert watched_cameras(decision(), PEOPLE, frozenset()) == set(PEOPLE)


def test_audio_only_viewers_watch_nothing():
    everyone_audio_only = frozenset(PEOPLE[1:])
    # Only p1 receives video (everyone else chose audio-only): p1's camera is nobody's.
    assert watched_cameras(decision(), PEOPLE, everyone_audio_only) == set(PEOPLE[1:])
    at_step_3 = decision(
        **{pid: SubscriberDecision(AUDIO_ONLY, frozenset(), "loss") for pid in PEOPLE[1:]}
    )
    assert watched_cameras(at_step_3, PEOPLE, frozenset()) == set(PEOPLE[1:])


def test_a_participant_the_decision_does_not_know_yet_receives_everyone():
    newcomer = (*PEOPLE, "p8")
    assert watched_cameras(last_n("p1"), newcomer, frozenset()) == set(newcomer) - {"p8"}


def test_a_camera_is_paused_after_the_hold_and_resumed_at_once():
    cameras = UnwatchedCameras(hold=5.0)
    assert cameras.to_pause(0.0, last_n("p1", "p2"), PEOPLE, frozenset()) == frozenset()
    assert cameras.to_pause(4.9, last_n("p1", "p2"), PEOPLE, frozenset()) == frozenset()
    paused = cameras.to_pause(5.0, last_n("p1", "p2"), PEOPLE, frozenset())
    assert paused == set(PEOPLE) - {"p1", "p2"}
    # p3 speaks and enters the last-N: resumed at the next decision, no hold.
    paused = cameras.to_pause(6.0, last_n("p1", "p3"), PEOPLE, frozenset())
    assert "p3" not in paused and "p2" not in paused  # p2 was watched until 5.0
    # p2, last received at 5.0, is paused once its hold has passed again.
    assert "p2" not in cameras.to_pause(9.9, last_n("p1", "p3"), PEOPLE, frozenset())
    assert "p2" in cameras.to_pause(10.0, last_n("p1", "p3"), PEOPLE, frozenset())


def test_a_camera_flapping_in_and_out_of_the_last_n_is_never_paused():
    cameras = UnwatchedCameras(hold=5.0)
    for second in range(30):
        sources = ("p1", "p2") if second % 4 < 2 else ("p1", "p3")
        paused = cameras.to_pause(float(second), last_n(*sources), PEOPLE, frozenset())
        assert not paused & {"p2", "p3"}


def test_reset_forgets_the_timers():
    cameras = UnwatchedCameras(hold=5.0)
    cameras.to_pause(0.0, last_n("p1"), PEOPLE, frozenset())
    assert cameras.reset() == frozenset()
    assert cameras.to_pause(6.0, last_n("p1"), PEOPLE, frozenset()) == frozenset()
