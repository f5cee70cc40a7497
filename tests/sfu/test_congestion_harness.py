"""The congestion harness really constrains a link: a room of seven synthetic participants on a
real worker, two of them behind a 400 kbit/s downlink (tc tbf in network namespaces).

This checks the harness, not a congestion policy (turned off here): while limited, the two get a
fraction of the video the five unconstrained participants get at full rate, the link carries no
more than its rate and drops the excess; once the limit is lifted, they get full-rate video
again. Needs root (namespaces, tc); elsewhere it is skipped with the reason.

The limit is put in place once everyone receives everyone. From the start, without a policy,
the flood (6 × 330 kbit/s into 400) starves the constrained participants' signalling, which
crosses the same link: renegotiations stall and they drop out of the room.
"""

from __future__ import annotations

import logging
import time

import pytest

from tests.sfu.congestion import SyntheticRoom, below_full_rate, wait_for_windows

logger = logging.getLogger(__name__)

pytestmark = pytest.mark.timeout(240)

LIMIT_KBIT = 400
# A light clip so that seven participants fit on two busy cores: 6 × 300 kbit/s of video and
# 6 × 32 kbit/s of audio toward each subscriber still overflow 400 kbit/s four times over.
VIDEO_KBIT, VIDEO_SIZE = 300, "320x240"
OPEN = ["open1", "open2", "open3", "open4", "open5"]
CONSTRAINED = ["tight1", "tight2"]
EVERYONE = OPEN + CONSTRAINED
# "Full rate": 80 % of the clip's 30 fps in a 3 s window. On a 2-core machine shared with other
# test runs, the worker and the publishers lose a few frames to CPU contention; the constrained
# participants get none at all.
FULL_RATE = 0.8
# Without a policy the tbf drops most packets, ICE consent checks among them: aioice closes a
# connection after 6 failed checks in a row, 5 s ± 20 % apart (24 s at the soonest). The limited
# phase stays shorter: 4.5 s + at most 12 s of polling + a 4 s measurement.
LIMITED_PHASE_TIMEOUT = 12


def others(name: str) -> list[str]:
    return [n for n in EVERYONE if n != name]


def full_rate_problems(windows, names) -> list[str]:
    problems = []
    for name in names:
        slow = below_full_rate(windows[name], others(name), FULL_RATE)
        if slow:
            problems.append(f"{name} gets video below full rate from {slow}")
        if windows[name].audio_loss() >= 0.02:
            problems.append(f"{name} loses {100 * windows[name].audio_loss():.1f} % of audio")
    return problems


def test_rate_limited_subscribers_receive_less_until_the_limit_is_lifted(
    make_namespace, start_reachable_sfu_worker, join_keys, tmp_path
):
    namespaces = {name: make_namespace(None) for name in CONSTRAINED}
    worker = start_reachable_sfu_worker(
        list(namespaces.values()),
        # The link is under test, not the policy (a worker without one ignores this).
        extra_env={"SFU_QUALITY_POLICY": "off"},
    )
    with SyntheticRoom(
        worker, "salle-congestion", join_keys.private_path, tmp_path,
        video_kbit=VIDEO_KBIT, video_size=VIDEO_SIZE,
    ) as room:  # fmt: skip
        room.add(OPEN[:3])
        room.add(OPEN[3:])
        for name, namespace in namespaces.items():
            room.add([name], namespace=namespace)
        room.wait_ready()
        room.wait_receiving(video=EVERYONE, timeout=90)
        for namespace in namespaces.values():
            namespace.set_limit(LIMIT_KBIT)
        # Stats lines come every second and a 3 s window spans at most 4 s: every window
        # from now on starts after the limit.
        time.sleep(4.5)

        # (a) + (b): in one 3 s window, full-rate video (and audio) from all six others at
        # each unconstrained participant; less than the limit, a fraction of what the others
        # get, at each constrained one.
        def problems(windows) -> list[str]:
            found = full_rate_problems(windows, OPEN)
            open_kbps = min(windows[name].video_kbps() for name in OPEN)
            for name in CONSTRAINED:
                kbps = windows[name].video_kbps()
                if kbps >= LIMIT_KBIT or kbps >= open_kbps / 3:
                    found.append(f"{name} gets {kbps:.0f} kbit/s of video (others {open_kbps:.0f})")
            return found

        wait_for_windows(room, EVERYONE, 3, problems, timeout=LIMITED_PHASE_TIMEOUT)

        # The link itself: at most its rate, the excess dropped by the tbf.
        links_before = {name: ns.link_stats() for name, ns in namespaces.items()}
        measured = room.measure(4)
        for name, namespace in namespaces.items():
            link = namespace.link_stats()
            seconds = measured[name].seconds
            link_kbps = (link["tx_bytes"] - links_before[name]["tx_bytes"]) * 8 / 1000 / seconds
            dropped = link["tbf"]["drops"] - links_before[name]["tbf"]["drops"]
            window = measured[name]
            assert link_kbps < LIMIT_KBIT * 1.1, (name, link_kbps)
            assert dropped > 0, (name, link)
            assert window.video_kbps() < LIMIT_KBIT, (name, window.summary())
            logger.warning(
                "%s behind %d kbit/s, no policy: link %.0f kbit/s, tbf dropped %d packets in "
                "%.1f s; video %.0f kbit/s %.1f fps from each, audio loss %.1f %% (%.1f %% on the "
                "network); per publisher %s",
                name, LIMIT_KBIT, link_kbps, dropped, seconds, window.video_kbps(),
                sum(window.video_fps(o) for o in others(name)) / 6,
                100 * window.audio_loss(), 100 * window.audio_network_loss(), window.summary(),
            )  # fmt: skip

        # (c) Lifted: full-rate video from everyone at the constrained participants again.
        for namespace in namespaces.values():
            namespace.set_limit(None)
        lifted_at = time.monotonic()
        time.sleep(1)
        windows = wait_for_windows(
            room, CONSTRAINED, 3, lambda w: full_rate_problems(w, CONSTRAINED), timeout=60
        )
        logger.warning(
            "limit lifted: a 3 s window at full rate ends %.1f s later (min %.1f fps)",
            time.monotonic() - lifted_at,
            min(windows[n].video_fps(o) for n in CONSTRAINED for o in others(n)),
        )

    # Nothing left behind: no namespace, no veth (its qdiscs go with it).
    from tests.fixtures.netns import link_exists, namespace_names  # after pytest_plugins

    for namespace in namespaces.values():
        namespace.close()
    assert not {ns.name for ns in namespaces.values()} & namespace_names()
    assert not [ns.host_interface for ns in namespaces.values() if link_exists(ns.host_interface)]
