"""Summarize a py-spy collapsed-stack profile (from `bench.run --profile`): where the time goes.

    .venv/bin/python -m bench.profile_summary bench/results/profile-sfu-16-*.txt

Prints the share of the busy samples (idle waits left out) per part of the forwarding path, as
in docs/performance.md; then, as % of all samples, each thread's share, the functions with the
most self time, and the most inclusive time (a function counted once per sample however deep).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

# py-spy frames look like "name (path/to/module.py:123)"; keep "name (module.py)".
_FRAME = re.compile(r"^(?P<name>.*?) \((?P<path>[^:()]*)(?::\d+)?\)$")


def _short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["path"]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['name']} ({path})"


def _has(stack: list[str], *needles: str) -> bool:
    return any(needle in frame for frame in stack for needle in needles)


# First match wins, in this order. Leaf frames that are waits, not work, count as idle.
CATEGORIES = (
    ("idle wait", lambda s: s[-1].startswith(("EpollSelector.select", "Condition.wait"))),
    ("UDP sendto", lambda s: _has(s, "sendto (asyncio")),
    ("SRTP (pylibsrtp)", lambda s: _has(s, "(pylibsrtp")),
    (
        "decoder-thread hand-off",
        lambda s: _has(
            s,
            "Queue.put (queue.py)",
            "Condition.notify",
            "run_coroutine_threadsafe",
            "_write_to_self",
            "_read_from_self",
            "decoder_worker",
        ),  # fmt: skip
    ),
    (
        "receive path",
        lambda s: _has(
            s,
            "_recv_next",
            "_handle_rtp_data",
            "_handle_rtp_packet",
            "RtpPacket.parse",
            "_read_ready",
            "datagram_received",
        ),  # fmt: skip
    ),
    ("sender per-packet Python (_run_rtp)", lambda s: _has(s, "_run_rtp")),
    ("fan-out (sfu.forwarding)", lambda s: _has(s, "Publication._run", "SubscriberTrack")),
    ("ICE / RTCP", lambda s: _has(s, "aioice", "_run_rtcp", "rtcp")),
)


def categorize(stacks: list[tuple[list[str], int]]) -> str:
    counts: Counter[str] = Counter()
    for frames, count in stacks:
        stack = [_short(f) for f in frames[1:]] or [""]
        name = next((name for name, match in CATEGORIES if match(stack)), "other")
        counts[name] += count
    busy = sum(counts.values()) - counts["idle wait"] or 1
    lines = [f"busy samples: {busy} (idle waits: {counts.pop('idle wait', 0)})"]
    for name, count in counts.most_common():
        lines.append(f"  {100 * count / busy:5.1f} %  {name}")
    return "\n".join(lines)


def load(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def summarize(stacks: list[tuple[list[str], int]], top: int) -> str:
    total = sum(count for _, count in stacks) or 1
    threads: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        # With --threads the first frame names the thread.
        threads[frames[0] if frames[0].startswith(("thread", "process")) else "?"] += count
        self_time[_short(frames[-1])] += count
        for name in {_short(f) for f in frames[1:]}:
            inclusive[name] += count
    lines = [f"{total} samples"]
    for title, counter in (("threads", threads), ("self", self_time), ("inclusive", inclusive)):
        lines.append(f"\n{title}:")
        for name, count in counter.most_common(top):
            lines.append(f"  {100 * count / total:5.1f} %  {name}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    stacks = load(args.profile)
    print(categorize(stacks))
    print()
    print(summarize(stacks, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
