"""The media server pool's CPU over the last hour, as the data of an inline SVG line chart.

Pure functions: the page's template draws what `build_chart` returns (one line per worker,
broken where samples are more than 30 s apart, and a dashed line at the autoscaler's high-water
mark). Each series has a colour with at least 3:1 contrast against white and its own dash
pattern, so colour is never the only cue; `cpu_summary` gives the numbers of the data table
that the page shows next to the chart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from flask_babel import gettext as _

WINDOW_SECONDS = 3600
TICK_SECONDS = 900  # an x-axis tick every 15 min
GAP_SECONDS = 30.0  # samples come every 10 s: further apart, the worker was away
MINUS = "\u2212"

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 680, 16, 224  # the plotting area; the high-water label right of it

# (stroke colour, stroke-dasharray): contrast against white ≥ 5:1, hues far apart.
PALETTE = (
    ("#000091", ""),  # blue France, solid
    ("#b34000", "8 4"),  # orange
    ("#18753c", "2 4"),  # green
    ("#a3195b", "10 3 2 3"),  # magenta
    ("#00758f", "16 4"),  # teal
    ("#7b3fa0", "2 3 2 3 8 3"),  # purple
)
HIGH_WATER_COLOUR = "#3a3a3a"
HIGH_WATER_DASH = "6 3"


@dataclass(frozen=True)
class Tick:
    position: float  # x (time axis) or y (CPU axis) in the drawing's coordinates
    label: str


@dataclass(frozen=True)
class Series:
    worker_id: str
    colour: str
    dash: str  # stroke-dasharray; empty: a solid line
    # "x,y" points, one list per stretch without a gap; a single point is drawn as a dot.
    segments: list[list[str]]


@dataclass(frozen=True)
class Chart:
    series: list[Series]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    high_water: Tick  # y of the dashed line, and its label
    label: str  # what the chart shows, for the svg's aria-label and title
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = RIGHT
    top: int = TOP
    bottom: int = BOTTOM


@dataclass(frozen=True)
class CpuSummary:
    minimum: float  # fractions of one core
    mean: float
    maximum: float
    samples: int


def style_of(index: int) -> tuple[str, str]:
    """Colour and dash of the index-th series; past the palette, colours and dashes are
    paired differently so that no two of the first 36 series look alike."""
    count = len(PALETTE)
    colour = PALETTE[index % count][0]
    dash = PALETTE[(index + index // count) % count][1]
    return colour, dash


def x_of(at: float, now: float) -> float:
    start = now - WINDOW_SECONDS
    return LEFT + (min(at, now) - start) / WINDOW_SECONDS * (RIGHT - LEFT)


def y_of(cpu: float) -> float:
    return BOTTOM - min(max(cpu, 0.0), 1.0) * (BOTTOM - TOP)


def _point(at: float, cpu: float, now: float) -> str:
    return f"{x_of(at, now):.1f},{y_of(cpu):.1f}"


def segments_of(history: Iterable[Sequence[float]], now: float) -> list[list[str]]:
    """The points of one worker's samples `(at, cpu, …)` within the hour, split where two
    samples are more than GAP_SECONDS apart; CPU is clipped to 0..1 (one core)."""
    start = now - WINDOW_SECONDS
    samples = sorted((sample[0], sample[1]) for sample in history if sample[0] >= start)
    segments: list[list[str]] = []
    previous: float | None = None
    for at, cpu in samples:
        if previous is None or at - previous > GAP_SECONDS:
            segments.append([])
        segments[-1].append(_point(at, cpu, now))
        previous = at
    return segments


def percent(fraction: float) -> str:
    return _("%(percent)s %%", percent=round(fraction * 100))


def x_ticks(now: float) -> list[Tick]:
    ticks = []
    for offset in range(WINDOW_SECONDS, -1, -TICK_SECONDS):
        label = (
            _("%(minutes)s min", minutes=f"{MINUS}{offset // 60}") if offset else _("maintenant")
        )
        ticks.append(Tick(round(x_of(now - offset, now), 1), label))
    return ticks


def build_chart(
    histories: Sequence[tuple[str, Iterable[Sequence[float]]]], now: float, high_water: float
) -> Chart:
    """`histories`: (worker id, samples `(unix seconds, cpu, …)`) per worker, in legend order."""
    series = []
    for index, (worker_id, history) in enumerate(histories):
        colour, dash = style_of(index)
        series.append(Series(worker_id, colour, dash, segments_of(history, now)))
    count = len(series)
    if count:
        servers = _("%(count)s serveur(s) média", count=count)
    else:
        servers = _("aucun serveur média")
    label = _(
        "Graphique : charge processeur de %(servers)s sur la dernière heure, de 0 à 100 %% d'un "
        "cœur, une ligne par serveur ; ligne pointillée grise : seuil d'ajout d'un serveur "
        "(%(threshold)s). Les valeurs sont détaillées dans le tableau « Charge sur la dernière "
        "heure ».",
        servers=servers,
        threshold=percent(high_water),
    )
    return Chart(
        series=series,
        x_ticks=x_ticks(now),
        y_ticks=[Tick(round(y_of(cpu), 1), percent(cpu)) for cpu in (0.0, 0.5, 1.0)],
        high_water=Tick(
            round(y_of(high_water), 1), _("seuil %(threshold)s", threshold=percent(high_water))
        ),
        label=label,
    )


def cpu_summary(history: Iterable[Sequence[float]]) -> CpuSummary | None:
    """Minimum, mean and maximum CPU of samples `(at, cpu, …)`; None without samples."""
    values = [sample[1] for sample in history]
    if not values:
        return None
    return CpuSummary(min(values), sum(values) / len(values), max(values), len(values))
