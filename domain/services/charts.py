"""PNG charts of /progress, drawn with matplotlib (Agg) into bytes in memory.

matplotlib is imported inside the functions: the bot pays for it (~0.3 s, tens of MiB) on the
first /progress, not at start. Figures are built with the object API (``Figure`` +
``FigureCanvasAgg``, never pyplot): no global figure registry, nothing to leak between threads,
so the bot renders in a worker thread (``asyncio.to_thread``). Every word on a chart arrives
translated in ``ProgressLabels`` (the domain stays free of gettext); dates are local dates and
loads are converted to the athlete's unit here.

Sized for a phone: 1200 × 900 px, large type (DejaVu Sans, shipped with matplotlib, has Latin
and Cyrillic).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from domain.services.progress import LiftTrend, ProgressData, SorenessPoint, WeeklyVolume
from domain.services.strength import WeightUnit, to_unit

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 6.0, 150
FONT_SIZE = 13
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True, slots=True)
class ProgressLabels:
    """Every text drawn on the charts, already translated."""

    e1rm_title: str  # "Estimated 1RM"
    e1rm_axis: str  # "kg" / "lb" (with the unit)
    volume_title: str  # "Weekly sets per muscle group"
    volume_axis: str  # "Hard sets"
    soreness_title: str
    soreness_axis: str  # "Soreness (0–10)"
    no_e1rm: str  # drawn on an empty chart
    no_volume: str
    no_soreness: str


def _figure(*, bottom: float = 0.1) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure  # lazy: see the module docstring

    # Fixed margins: a layout engine ("constrained", "tight") measures every text first and
    # doubled the drawing time (bench/progress_bench.py).
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    figure.subplots_adjust(left=0.12, right=0.97, top=0.91, bottom=bottom)
    axes = figure.add_subplot()
    axes.tick_params(labelsize=FONT_SIZE - 1)
    axes.grid(visible=True, alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    return figure, axes


def _png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    # zlib level 3 instead of 6: ~15 ms less per chart, files ~30 % larger (still ~0.1 MiB).
    canvas.print_png(buffer, pil_kwargs={"compress_level": 3})  # type: ignore[no-untyped-call]
    figure.clear()
    return buffer.getvalue()


def _empty(axes: Axes, message: str) -> None:
    axes.set_xticks([])
    axes.set_yticks([])
    axes.text(
        0.5,
        0.5,
        message,
        ha="center",
        va="center",
        wrap=True,
        fontsize=FONT_SIZE + 1,
        color="0.35",
        transform=axes.transAxes,
    )


def _dates(days: Sequence[dt.date]) -> np.ndarray[Any, np.dtype[np.datetime64]]:
    import numpy as np

    return np.array(days, dtype="datetime64[D]")


def _date_axis(axes: Axes, span_days: int) -> None:
    # Numeric day.month: month names from strftime would not follow the person's language.
    from matplotlib.dates import AutoDateLocator, DateFormatter

    # Both constructors are untyped in matplotlib 3.11.
    locator = AutoDateLocator(minticks=3, maxticks=7)  # type: ignore[no-untyped-call]
    formatter = DateFormatter("%d.%m" if span_days <= 200 else "%m.%Y")  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(formatter)


def e1rm_chart(lifts: Sequence[LiftTrend], unit: WeightUnit, labels: ProgressLabels) -> bytes:
    figure, axes = _figure(bottom=0.22)
    axes.set_title(labels.e1rm_title, fontsize=FONT_SIZE + 4, fontweight="bold")
    if not lifts:
        _empty(axes, labels.no_e1rm)
        return _png(figure)
    days = [point.day for lift in lifts for point in lift.points]
    for lift in lifts:
        axes.plot(
            _dates([point.day for point in lift.points]),
            [float(to_unit(point.e1rm_kg, unit)) for point in lift.points],
            # Dots while they can be told apart; a year of sessions reads better as a line.
            marker="o" if len(lift.points) <= 60 else "",
            markersize=4,
            linewidth=2,
            label=lift.name,
        )
    axes.set_ylabel(labels.e1rm_axis, fontsize=FONT_SIZE)
    _date_axis(axes, (max(days) - min(days)).days)
    # Below the plot: inside it, four names would hide a part of the lines.
    axes.legend(
        fontsize=FONT_SIZE - 1,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.08),
        ncols=2,
        frameon=False,
    )
    return _png(figure)


def volume_chart(volume: WeeklyVolume, labels: ProgressLabels) -> bytes:
    figure, axes = _figure(bottom=0.3)
    axes.set_title(labels.volume_title, fontsize=FONT_SIZE + 4, fontweight="bold")
    if volume.empty:
        _empty(axes, labels.no_volume)
        return _png(figure)
    positions = list(range(len(volume.weeks)))
    bottoms = [0] * len(volume.weeks)
    # tab10 has 10 colours, as many as there are groups.
    for index, group in enumerate(volume.groups):
        axes.bar(
            positions,
            group.sets,
            bottom=bottoms,
            label=group.name,
            color=f"C{index % 10}",
            width=0.75,
        )
        bottoms = [below + sets for below, sets in zip(bottoms, group.sets, strict=True)]
    axes.set_ylim(0, max(1, max(bottoms)) * 1.08)
    axes.set_xticks(positions, [week.strftime("%d.%m") for week in volume.weeks], rotation=45)
    axes.set_ylabel(labels.volume_axis, fontsize=FONT_SIZE)
    axes.grid(axis="x", visible=False)
    axes.legend(
        fontsize=FONT_SIZE - 3,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.17),
        ncols=3,
        frameon=False,
    )
    return _png(figure)


def soreness_chart(points: Sequence[SorenessPoint], labels: ProgressLabels) -> bytes:
    figure, axes = _figure()
    axes.set_title(labels.soreness_title, fontsize=FONT_SIZE + 4, fontweight="bold")
    if not points:
        _empty(axes, labels.no_soreness)
        return _png(figure)
    days = [point.day for point in points]
    axes.plot(
        _dates(days),
        [float(point.soreness) for point in points],
        marker="o",
        markersize=5,
        linewidth=2,
        color="C3",
    )
    axes.set_ylim(-0.3, 10.3)
    axes.set_yticks(range(0, 11, 2))
    axes.set_ylabel(labels.soreness_axis, fontsize=FONT_SIZE)
    _date_axis(axes, (max(days) - min(days)).days)
    return _png(figure)


def progress_charts(data: ProgressData, unit: WeightUnit, labels: ProgressLabels) -> list[bytes]:
    """The three PNGs of /progress: e1RM trend, weekly volume, soreness (CPU work: call it in
    a worker thread from async code)."""
    return [
        e1rm_chart(data.lifts, unit, labels),
        volume_chart(data.volume, labels),
        soreness_chart(data.soreness, labels),
    ]
