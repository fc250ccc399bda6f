"""The console's charts, drawn on the server as SVG markup.

Pure functions: figures in, a ``str`` of SVG out, which the caller marks safe
(``markupsafe.Markup``). Every text is XML-escaped here, so no label can become markup.
A chart has a ``viewBox`` and no width or height: it takes the width CSS gives it and
keeps its proportions. Colours come from the stylesheet through classes (``bar sent``,
``bar delivered``, ``bar read``, ``bar replied``, ``series-0`` to ``series-9``,
``meter-fill``, ``over``); nothing here names a colour. Each bar has a ``<title>`` with
its exact figure, shown on hover, and each chart a ``role="img"`` with an
``aria-label`` that reads out its figures.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from html import escape
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from engine.reports import Funnel

__all__ = ["FUNNEL_STAGES", "SERIES_CLASSES", "daily_chart", "funnel_chart", "nice_ticks",
           "quota_meter"]  # fmt: skip

FUNNEL_STAGES: Final = ("sent", "delivered", "read", "replied")
"""The funnel's bars in each row, top to bottom; each is also the bar's class."""
SERIES_CLASSES: Final = 10
"""Series take the classes ``series-0`` to ``series-9``, in turn."""

_FONT: Final = 12
"""Text size, in the viewBox's units (px at the chart's natural width)."""
_WIDTH: Final = 640
_LEGEND_ROW: Final = 18
_NOTHING: Final = "nothing sent yet"


def funnel_chart(rows: Sequence[tuple[str, Funnel]]) -> str:
    """Sent, delivered, read and replied as horizontal bars, a group per labelled row (a
    step, a phone, an A/B variant), every bar on the scale of the largest figure in the
    chart, and each row's reply rate at its end. Nothing sent: a note saying so."""
    biggest = max((getattr(funnel, s) for _, funnel in rows for s in FUNNEL_STAGES), default=0)
    if biggest <= 0:
        return _nothing("funnel-chart")
    label_w, rate_w, bar_h, gap, row_gap = 120, 72, 9, 2, 14
    row_h = len(FUNNEL_STAGES) * (bar_h + gap) - gap
    legend = _legend([(f"bar {s}", s) for s in FUNNEL_STAGES], _WIDTH)
    top = _LEGEND_ROW * len(legend) + 6
    bar_x, bar_w = label_w + 8, _WIDTH - label_w - 8 - rate_w
    body = [*_legend_markup(legend)]
    spoken = []
    for index, (label, funnel) in enumerate(rows):
        y = top + index * (row_h + row_gap)
        middle = y + row_h / 2
        body.append('<g class="row">')
        body.append(_text(label_w, middle, _clip(label, 18), anchor="end", title=label))
        for stage_index, stage in enumerate(FUNNEL_STAGES):
            value: int = getattr(funnel, stage)
            body.append(
                _rect(f"bar {stage}", bar_x, y + stage_index * (bar_h + gap),
                      bar_w * value / biggest, bar_h, title=f"{label}: {value:,} {stage}")
            )  # fmt: skip
        rate = "–" if funnel.reply_rate is None else f"{funnel.reply_rate:.1%}"
        body.append(_text(_WIDTH - 4, middle, rate, anchor="end", css="rate",
                          title=f"{label}: reply rate {rate}"))  # fmt: skip
        body.append("</g>")
        figures = ", ".join(f"{getattr(funnel, s):,} {s}" for s in FUNNEL_STAGES)
        spoken.append(f"{label}: {figures}, reply rate {rate}")
    height = top + len(rows) * (row_h + row_gap) - row_gap + 4
    return _svg("funnel-chart", _WIDTH, height, "Funnel. " + "; ".join(spoken), body)


def daily_chart(days: Sequence[date], series: Mapping[str, Sequence[int]]) -> str:
    """Sends per day as vertical bars, one column a day, each series (a phone) stacked.

    Stacked, not grouped: with 20 phones over a month, grouped bars would be 600 slivers
    about a pixel wide each; a stack keeps one column a day whose height is the day's total
    (the figure read first), each phone a segment of it, with its exact figure on hover.
    Series are stacked, coloured (``series-N``, in turn) and listed in the legend in the
    order of their sorted names, so a phone keeps its colour from page to page while the
    same phones are shown. Day labels are thinned to about ten, always keeping the last
    day; the y axis has 3 to 5 round ticks (:func:`nice_ticks`). ``series[name][i]`` is
    the figure of ``days[i]``; nothing sent: a note saying so.
    """
    names = sorted(series)
    for name in names:
        if len(series[name]) != len(days):
            count = len(series[name])
            raise ValueError(f"series {name!r} has {count} figures for {len(days)} days")
    totals = [sum(series[name][i] for name in names) for i in range(len(days))]
    if not days or max(totals) <= 0:
        return _nothing("daily-chart")
    ticks = nice_ticks(max(totals))
    legend = _legend([(_series(k), name) for k, name in enumerate(names)], _WIDTH)
    # The right margin leaves room for half of the last day's label.
    height, left, right, bottom = 240, 48, 22, 22
    top = _LEGEND_ROW * len(legend) + 10
    plot_w, plot_h = _WIDTH - left - right, height - top - bottom
    slot = plot_w / len(days)
    bar_w = slot * 0.8

    def y_of(value: float) -> float:
        return top + plot_h - plot_h * value / ticks[-1]

    body = [*_legend_markup(legend), '<g class="axis y">']
    for tick in ticks:
        body.append(_line("grid", left, y_of(tick), _WIDTH - right, y_of(tick)))
        body.append(_text(left - 6, y_of(tick), f"{tick:,}", anchor="end"))
    body.append("</g>")
    every = math.ceil(len(days) / 10)
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar_w) / 2
        body.append(f'<g class="day" data-day="{day.isoformat()}">')
        stacked = 0
        for k, name in enumerate(names):
            value = series[name][i]
            if value > 0:
                title = f"{name}, {day.isoformat()}: {value:,} sent (day: {totals[i]:,})"
                body.append(_rect(f"bar {_series(k)}", x, y_of(stacked + value), bar_w,
                                  plot_h * value / ticks[-1], title=title))  # fmt: skip
                stacked += value
        if (len(days) - 1 - i) % every == 0:
            body.append(_text(x + bar_w / 2, height - 6, f"{day.day} {day:%b}", anchor="middle"))
        body.append("</g>")
    body.append(_line("axis x", left, y_of(0), _WIDTH - right, y_of(0)))
    spoken = ", ".join(f"{d.isoformat()} {t:,}" for d, t in zip(days, totals, strict=True))
    each = ", ".join(f"{name} {sum(series[name]):,}" for name in names)
    aria = f"Sends per day from {days[0].isoformat()} to {days[-1].isoformat()}: {spoken}. "
    aria += f"In all by series: {each}"
    return _svg("daily-chart", _WIDTH, height, aria, body)


def quota_meter(used: int, quota: int) -> str:
    """How much of a quota is used, as a small horizontal meter; beyond the quota the
    meter is full and has the class ``over``."""
    if used < 0 or quota < 0:
        raise ValueError(f"a meter of {used} used of {quota}")
    over = used > quota
    share = 1.0 if over else (used / quota if quota else 0.0)
    label = f"{used:,} of {quota:,} used" + (f" ({used / quota:.0%})" if quota else "")
    extra = " over" if over else ""
    width, height = 160, 12
    body = [
        f"<g><title>{_escape(label)}</title>",
        f'<rect class="meter-track" x="0" y="0" width="{width}" height="{height}" rx="3"/>',
        f'<rect class="meter-fill{extra}" x="0" y="0" width="{_n(width * share)}" '
        f'height="{height}" rx="3"/>',
        "</g>",
    ]
    return _svg(f"quota-meter{extra}", width, height, label, body)


def nice_ticks(maximum: int) -> list[int]:
    """3 to 5 evenly spaced whole ticks from 0, the last one at or above ``maximum``,
    spaced 1, 2, 2.5 or 5 times a power of ten (2.5 from 25 up, never half a send)."""
    if maximum < 0:
        raise ValueError(f"no ticks for a maximum of {maximum}")
    step = next(s for s in _steps() if math.ceil(maximum / s) <= 4)
    intervals = max(2, math.ceil(maximum / step))
    return [step * i for i in range(intervals + 1)]


def _steps() -> Iterator[int]:
    yield from (1, 2, 5)
    power = 10
    while True:
        yield from (power, 2 * power, 5 * power // 2, 5 * power)
        power *= 10


def _series(index: int) -> str:
    return f"series-{index % SERIES_CLASSES}"


def _nothing(kind: str) -> str:
    """A strip as wide as a chart, so its text is the size of the charts' text."""
    body = [_text(_WIDTH / 2, 16, _NOTHING, anchor="middle", css="empty")]
    return _svg(f"{kind} empty", _WIDTH, 32, _NOTHING, body)


def _legend(items: Sequence[tuple[str, str]], width: int) -> list[list[tuple[str, str, float]]]:
    """The legend's entries (class, text, x) laid out in rows that fit ``width``."""
    rows: list[list[tuple[str, str, float]]] = [[]]
    x = 0.0
    for css, text in items:
        entry_w = 10 + 4 + len(text) * _FONT * 0.6 + 14
        if rows[-1] and x + entry_w > width:
            rows.append([])
            x = 0.0
        rows[-1].append((css, text, x))
        x += entry_w
    return rows


def _legend_markup(rows: Sequence[Sequence[tuple[str, str, float]]]) -> Iterator[str]:
    yield '<g class="legend">'
    for index, row in enumerate(rows):
        y = index * _LEGEND_ROW + 2
        for css, text, x in row:
            yield f'<rect class="{css}" x="{_n(x)}" y="{y}" width="10" height="10"/>'
            yield _text(x + 14, y + 5, text)
    yield "</g>"


def _svg(kind: str, width: int, height: float, label: str, body: Iterable[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {kind}" '
        f'viewBox="0 0 {width} {_n(height)}" role="img" aria-label="{_escape(label)}">'
        + "".join(body)
        + "</svg>"
    )


def _rect(css: str, x: float, y: float, width: float, height: float, *, title: str) -> str:
    return (
        f'<rect class="{css}" x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" '
        f'height="{_n(height)}"><title>{_escape(title)}</title></rect>'
    )


def _line(css: str, x1: float, y1: float, x2: float, y2: float) -> str:
    return f'<line class="{css}" x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}"/>'


def _text(
    x: float, y: float, text: str, *, anchor: str = "start", css: str = "label",
    title: str | None = None,
) -> str:  # fmt: skip
    tip = "" if title is None else f"<title>{_escape(title)}</title>"
    return (
        f'<text class="{css}" x="{_n(x)}" y="{_n(y)}" font-size="{_FONT}" '
        f'text-anchor="{anchor}" dominant-baseline="middle">{tip}{_escape(text)}</text>'
    )


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _escape(text: str) -> str:
    return escape(text, quote=True)


def _n(value: float) -> str:
    """A coordinate to a tenth, without trailing zeros."""
    return f"{value:.1f}".rstrip("0").rstrip(".")
