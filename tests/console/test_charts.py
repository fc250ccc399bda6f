"""The console's SVG charts: escaped, scaled, labelled, and styled only through classes."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.charts import daily_chart, funnel_chart, nice_ticks, quota_meter
from engine.reports import Funnel

NS = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>&"'
DAYS = [date(2026, 1, 1) + timedelta(days=n) for n in range(3)]


def parse(svg: str) -> ET.Element:
    """The chart as XML: unescaped markup in a label would not parse."""
    return ET.fromstring(svg)


def bars(root: ET.Element) -> list[ET.Element]:
    """The rectangles that carry a figure (legend swatches and meter tracks carry none)."""
    return [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]


def classes(element: ET.Element) -> list[str]:
    return element.get("class", "").split()


def number(element: ET.Element, name: str) -> float:
    return float(element.get(name, "nan"))


def titles(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{NS}title")]


def texts(root: ET.Element) -> list[str]:
    """What the chart prints, in order (a text's hover title comes before its content)."""
    found = []
    for text in root.iter(f"{NS}text"):
        tip = text.find(f"{NS}title")
        found.append((text.text if tip is None else tip.tail) or "")
    return found


def y_ticks(root: ET.Element) -> list[str]:
    axis = root.find(f"{NS}g[@class='axis y']")
    assert axis is not None
    return [t.text or "" for t in axis.iter(f"{NS}text")]


CHARTS = {
    "funnel": funnel_chart([("Step 1", Funnel(sent=10, delivered=8, read=5, replied=1))]),
    "funnel, empty": funnel_chart([]),
    "daily": daily_chart(DAYS, {"01": [1, 2, 3], "02": [0, 1, 0]}),
    "daily, empty": daily_chart([], {}),
    "meter": quota_meter(30, 200),
    "meter, over": quota_meter(300, 200),
}


@pytest.mark.parametrize("svg", CHARTS.values(), ids=CHARTS.keys())
def test_every_chart_is_an_accessible_image_that_scales_and_names_no_colour(svg: str) -> None:
    root = parse(svg)
    assert root.tag == f"{NS}svg"
    assert root.get("role") == "img" and root.get("aria-label")
    assert re.fullmatch(r"0 0 \d+ \d+(\.\d)?", root.get("viewBox", ""))
    assert root.get("width") is None and root.get("height") is None
    assert "chart" in classes(root)
    assert not re.search(r"\b(fill|stroke|style|color)=|#[0-9a-fA-F]{3}", svg)
    assert all(title.strip() for title in titles(root))


def test_labels_are_escaped_everywhere() -> None:
    funnel = funnel_chart([(HOSTILE, Funnel(sent=4, delivered=2, read=1, replied=1))])
    daily = daily_chart(DAYS, {HOSTILE: [1, 0, 2]})
    for svg in (funnel, daily):
        assert "<script>" not in svg
        root = parse(svg)
        assert HOSTILE in root.get("aria-label", "")
        assert any(HOSTILE in title for title in titles(root))
        assert HOSTILE in texts(root)  # the funnel's row label, the daily legend


def test_funnel_has_four_bars_a_row_each_with_its_exact_figure() -> None:
    rows = [
        ("Step 1", Funnel(sent=1234, delivered=1100, read=617, replied=99)),
        ("Step 2", Funnel(sent=400, delivered=390, read=0, replied=4)),
    ]
    root = parse(funnel_chart(rows))
    found = bars(root)
    assert [classes(b) for b in found] == [
        ["bar", stage] for _ in rows for stage in ("sent", "delivered", "read", "replied")
    ]
    assert [t.text for b in found for t in b.iter(f"{NS}title")] == [
        "Step 1: 1,234 sent", "Step 1: 1,100 delivered", "Step 1: 617 read",
        "Step 1: 99 replied", "Step 2: 400 sent",
        "Step 2: 390 delivered", "Step 2: 0 read", "Step 2: 4 replied",
    ]  # fmt: skip
    assert {"Step 1", "Step 2", "8.0%", "1.0%"} <= set(texts(root))
    legend = root.find(f"{NS}g[@class='legend']")
    assert legend is not None
    assert [t.text for t in legend.iter(f"{NS}text")] == ["sent", "delivered", "read", "replied"]


def test_funnel_bars_share_one_scale_set_by_the_largest_figure() -> None:
    rows = [("a", Funnel(sent=50, delivered=25)), ("b", Funnel(sent=200, replied=10))]
    widths = [number(b, "width") for b in bars(parse(funnel_chart(rows)))]
    a_sent, a_delivered, a_read, _, b_sent, *_, b_replied = widths
    assert b_sent == max(widths) > 0
    assert a_sent == pytest.approx(b_sent / 4, abs=0.1)
    assert a_delivered == pytest.approx(b_sent / 8, abs=0.1)
    assert b_replied == pytest.approx(b_sent / 20, abs=0.1)
    assert a_read == 0
    # The largest figure fills the same length whatever it is, up to the reply rates.
    small = parse(funnel_chart([("c", Funnel(sent=7))]))
    assert max(number(b, "width") for b in bars(small)) == b_sent
    widest = bars(small)[0]
    rates = [t for t in small.iter(f"{NS}text") if "rate" in classes(t)]
    assert 0 < number(rates[0], "x") - (number(widest, "x") + b_sent) < 80


def test_a_row_with_nothing_sent_has_no_reply_rate() -> None:
    rows = [("sent", Funnel(sent=3, replied=1)), ("waiting", Funnel(waiting=7))]
    assert "–" in texts(parse(funnel_chart(rows)))
    assert "33.3%" in texts(parse(funnel_chart(rows)))


@pytest.mark.parametrize(
    "svg",
    [
        funnel_chart([]),
        funnel_chart([("Step 1", Funnel(waiting=5, queued=2))]),
        daily_chart([], {}),
        daily_chart(DAYS, {}),
        daily_chart(DAYS, {"01": [0, 0, 0]}),
    ],
)
def test_nothing_sent_is_said_in_words(svg: str) -> None:
    root = parse(svg)
    assert texts(root) == ["nothing sent yet"]
    assert bars(root) == [] and "empty" in classes(root)


def test_daily_bars_stack_each_days_sends_by_phone() -> None:
    root = parse(daily_chart(DAYS, {"02": [0, 1, 0], "01": [1, 2, 3]}))
    found = bars(root)
    # One segment per non-zero figure, the phones stacked in name order, bottom up.
    assert [(classes(b)[1], t.text) for b in found for t in b.iter(f"{NS}title")] == [
        ("series-0", "01, 2026-01-01: 1 sent (day: 1)"),
        ("series-0", "01, 2026-01-02: 2 sent (day: 3)"),
        ("series-1", "02, 2026-01-02: 1 sent (day: 3)"),
        ("series-0", "01, 2026-01-03: 3 sent (day: 3)"),
    ]
    lower, upper = found[1], found[2]
    upper_bottom = number(upper, "y") + number(upper, "height")
    assert upper_bottom == pytest.approx(number(lower, "y"), abs=0.1)
    assert number(lower, "height") == pytest.approx(2 * number(upper, "height"), abs=0.2)
    # Days 2 and 3 both reach 3 sends: their stacks have the same top.
    assert number(upper, "y") == pytest.approx(number(found[3], "y"))
    assert y_ticks(root) == ["0", "1", "2", "3"]


def test_the_y_axis_tops_at_the_last_round_tick() -> None:
    root = parse(daily_chart(DAYS, {"01": [70, 0, 10], "02": [20, 0, 0]}))
    assert y_ticks(root) == ["0", "25", "50", "75", "100"]
    grid = [number(line, "y1") for line in root.iter(f"{NS}line") if "grid" in classes(line)]
    zero, hundred = grid[0], grid[-1]
    first_day_01, first_day_02, _ = bars(root)
    assert number(first_day_02, "y") == pytest.approx(zero - (zero - hundred) * 0.9, abs=0.1)
    assert number(first_day_01, "height") == pytest.approx((zero - hundred) * 0.7, abs=0.1)


def test_day_labels_are_thinned_and_keep_the_last_day() -> None:
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(45)]
    root = parse(daily_chart(days, {"01": [1] * 45}))
    labels = [g.find(f"{NS}text") for g in root.iter(f"{NS}g") if g.get("class") == "day"]
    shown = [label.text for label in labels if label is not None]
    assert 5 <= len(shown) <= 10
    assert shown[-1] == "14 Feb"
    few = parse(daily_chart(DAYS, {"01": [1, 1, 1]}))
    assert {"1 Jan", "2 Jan", "3 Jan"} <= set(texts(few))


def test_series_classes_wrap_after_ten_and_the_legend_names_every_series() -> None:
    names = [f"{n:02d}" for n in range(1, 13)]
    root = parse(daily_chart(DAYS[:1], {name: [1] for name in names}))
    assert [classes(b)[1] for b in bars(root)] == [f"series-{n % 10}" for n in range(12)]
    legend = root.find(f"{NS}g[@class='legend']")
    assert legend is not None
    assert [t.text for t in legend.iter(f"{NS}text")] == names


def test_a_series_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="'01' has 2 figures for 3 days"):
        daily_chart(DAYS, {"01": [1, 2]})


@pytest.mark.parametrize(
    ("used", "quota", "width", "over"),
    [(0, 200, 0, False), (50, 200, 40, False), (200, 200, 160, False), (250, 200, 160, True),
     (0, 0, 0, False), (3, 0, 160, True)],
)  # fmt: skip
def test_quota_meter_fills_to_the_share_used_and_marks_over(
    used: int, quota: int, width: float, over: bool
) -> None:
    root = parse(quota_meter(used, quota))
    (fill,) = (r for r in root.iter(f"{NS}rect") if "meter-fill" in classes(r))
    assert number(fill, "width") == width
    assert ("over" in classes(fill), "over" in classes(root)) == (over, over)
    assert f"{used:,} of {quota:,} used" in root.get("aria-label", "")
    assert any(f"{used:,} of {quota:,}" in title for title in titles(root))


def test_quota_meter_refuses_negative_figures() -> None:
    with pytest.raises(ValueError, match="a meter of -1 used of 200"):
        quota_meter(-1, 200)


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [
        (0, [0, 1, 2]), (1, [0, 1, 2]), (2, [0, 1, 2]), (3, [0, 1, 2, 3]), (4, [0, 1, 2, 3, 4]),
        (5, [0, 2, 4, 6]), (7, [0, 2, 4, 6, 8]), (9, [0, 5, 10]), (10, [0, 5, 10]),
        (90, [0, 25, 50, 75, 100]), (200, [0, 50, 100, 150, 200]), (201, [0, 100, 200, 300]),
        (4800, [0, 2000, 4000, 6000]),
    ],
)  # fmt: skip
def test_nice_ticks(maximum: int, ticks: list[int]) -> None:
    assert nice_ticks(maximum) == ticks


@given(st.integers(min_value=0, max_value=10**12))
def test_nice_ticks_are_few_round_and_cover_the_maximum(maximum: int) -> None:
    ticks = nice_ticks(maximum)
    step = ticks[1]
    assert 3 <= len(ticks) <= 5 and ticks[0] == 0 and ticks[-1] >= maximum
    assert ticks == [step * i for i in range(len(ticks))]
    assert re.fullmatch(r"(1|2|25|5)0*", str(step))
    assert ticks[-2] < maximum or len(ticks) == 3  # no empty step at the top


def test_nice_ticks_refuse_a_negative_maximum() -> None:
    with pytest.raises(ValueError, match="-1"):
        nice_ticks(-1)
