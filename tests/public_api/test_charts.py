"""The SVG charts: well-formed XML, every text escaped, bars true to their amounts.

Also the periods the money-over-time chart is drawn by (``ledger.funds.timeline``):
weeks, months or years depending on the span, gaps kept, nothing lost or counted twice.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import pytest
from markupsafe import Markup

from ledger.funds import timeline
from ledger.receipt_pdf import money
from public_api import charts

NS = "{http://www.w3.org/2000/svg}"
HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "' onload='alert(3)",
    "]]><!-- & &amp; &#x3C; </svg>",
]


def parsed(svg: Markup) -> ET.Element:
    """Our own output, parsed strictly as XML: one malformed character fails it."""
    return ET.fromstring(str(svg))  # noqa: S314


def bars(svg: ET.Element) -> list[ET.Element]:
    return [rect for rect in svg.iter(f"{NS}rect") if "bar" in rect.attrib["class"].split()]


def grouped(labels: list[str], *values: list[int], names: list[str] | None = None) -> Markup:
    tones = ("in", "out", "received")
    series = [
        charts.Series(name, tone, amounts)
        for name, tone, amounts in zip(
            names or ["Tiền vào", "Tiền ra", "Khác"], tones, values, strict=False
        )
    ]
    return charts.grouped_bars(
        key="test-chart",
        title="Tiền vào, tiền ra",
        description="Theo tháng",
        labels=labels,
        series=series,
        short=charts.compact,
        full=money,
        empty="Chưa có số liệu.",
    )


# -- escaping and structure --------------------------------------------------------------------


@pytest.mark.parametrize("hostile", HOSTILE)
def test_every_text_in_a_chart_is_escaped(hostile: str) -> None:
    svg = charts.grouped_bars(
        key="hostile",
        title=hostile,
        description=hostile,
        labels=[hostile, "03/2026"],
        series=[charts.Series(hostile, "in", [5, 7])],
        short=lambda amount: f"{hostile}{amount}",
        full=lambda amount: hostile,
        empty=hostile,
    )
    tree = parsed(svg)
    assert all(element.tag.startswith(NS) for element in tree.iter())  # no element smuggled in
    assert {name for element in tree.iter() for name in element.attrib} <= {
        "viewBox", "class", "role", "aria-labelledby", "focusable", "id", "x", "y",
        "width", "height", "rx", "data-value",
    }  # fmt: skip
    assert tree.findtext(f"{NS}title") == hostile
    assert tree.findtext(f"{NS}desc") == hostile
    texts = [element.text for element in tree.iter(f"{NS}text")]
    assert hostile in texts  # the legend
    assert f"{hostile}5" in texts
    stacked = charts.stacked_bar(
        key="hostile-stack",
        title=hostile,
        description=hostile,
        parts=[charts.Part(hostile, "available", 3)],
        full=lambda amount: hostile,
        empty=hostile,
    )
    assert parsed(stacked).findtext(f"{NS}title") == hostile
    empty = charts.stacked_bar(
        key="nothing", title="t", description="d", parts=[], full=money, empty=hostile
    )
    assert parsed(empty).findtext(f"{NS}text") == hostile


def test_keys_and_tones_come_from_code_never_from_data() -> None:
    with pytest.raises(ValueError, match="key"):
        grouped_with(key='x" onload="alert(1)')
    with pytest.raises(ValueError, match="tone"):
        charts.stacked_bar(
            key="ok",
            title="t",
            description="d",
            parts=[charts.Part("a", "in onclick", 1)],
            full=money,
            empty="",
        )
    with pytest.raises(ValueError, match="one amount per label"):
        grouped(["a", "b"], [1])


def grouped_with(key: str) -> Markup:
    return charts.grouped_bars(
        key=key,
        title="t",
        description="d",
        labels=["a"],
        series=[charts.Series("s", "in", [1])],
        short=charts.compact,
        full=money,
        empty="",
    )


def test_a_chart_is_labelled_for_screen_readers_and_scales_to_its_box() -> None:
    tree = parsed(grouped(["01/2026", "02/2026"], [1, 2], [3, 4]))
    assert tree.attrib["role"] == "img"
    assert tree.attrib["aria-labelledby"] == "test-chart-title test-chart-desc"
    assert tree.find(f"{NS}title").attrib["id"] == "test-chart-title"  # type: ignore[union-attr]
    assert tree.find(f"{NS}desc").attrib["id"] == "test-chart-desc"  # type: ignore[union-attr]
    assert tree.attrib["viewBox"].startswith(f"0 0 {charts.WIDTH} ")
    assert "width" not in tree.attrib and "height" not in tree.attrib  # CSS sizes it
    assert "style" not in str(grouped(["a"], [1]))  # the CSP allows no inline style


# -- the bars are true to the figures ------------------------------------------------------


def test_bars_are_to_scale_and_carry_their_amounts() -> None:
    labels = ["01/2026", "02/2026", "03/2026"]
    money_in, money_out = [4_000_000, 0, 1_000_000], [500_000, 2_000_000, -300_000]
    tree = parsed(grouped(labels, money_in, money_out))
    found = bars(tree)
    assert [int(bar.attrib["data-value"]) for bar in found] == [
        4_000_000, 500_000, 0, 2_000_000, 1_000_000, -300_000,
    ]  # fmt: skip
    widths = [float(bar.attrib["width"]) for bar in found]
    longest = charts.WIDTH - charts.VALUE_ROOM
    assert max(widths) == pytest.approx(longest)
    assert widths[4] == pytest.approx(longest / 4, abs=0.1)
    assert widths[2] == 0 and widths[5] == 0  # nothing drawn for zero or less
    assert "nil" in found[5].attrib["class"].split()
    assert sum(int(bar.attrib["data-value"]) for bar in found[::2]) == sum(money_in)
    tips = [bar.findtext(f"{NS}title") for bar in found]
    assert tips[0] == "01/2026 · Tiền vào: 4.000.000 ₫"
    assert tips[5] == "03/2026 · Tiền ra: -300.000 ₫"
    values = [t.text for t in tree.iter(f"{NS}text") if t.attrib.get("class") == "value"]
    assert values[:2] == ["4 tr", "500 nghìn"]
    labels_drawn = [t.text for t in tree.iter(f"{NS}text") if t.attrib.get("class") == "label"]
    assert labels_drawn == labels


def test_a_long_label_is_shortened_in_the_drawing_but_whole_in_its_tooltip() -> None:
    label = "Quỹ phòng, chống COVID-19 của Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh Lạng Sơn"
    tree = parsed(grouped([label], [1_000]))
    drawn = next(t.text for t in tree.iter(f"{NS}text") if t.attrib.get("class") == "label")
    assert drawn is not None and drawn.endswith("…") and len(drawn) <= charts.LONGEST_LABEL
    assert bars(tree)[0].findtext(f"{NS}title", "").startswith(label)


def test_a_stacked_bar_fills_the_width_in_proportion() -> None:
    parts = [
        charts.Part("Đã chi", "disbursed", 1_000_000),
        charts.Part("Đã phân bổ, chưa chi", "committed", 0),
        charts.Part("Chưa phân bổ", "available", 3_000_000),
    ]
    tree = parsed(
        charts.stacked_bar(
            key="stack", title="t", description="d", parts=parts, full=money, empty=""
        )
    )
    found = bars(tree)
    assert [int(bar.attrib["data-value"]) for bar in found] == [1_000_000, 0, 3_000_000]
    assert [float(bar.attrib["width"]) for bar in found] == [80, 0, 240]
    assert [float(bar.attrib["x"]) for bar in found] == [0, 80, 80]
    legend = [t.text for t in tree.iter(f"{NS}text")]
    assert legend == [
        "Đã chi: 1.000.000 ₫",
        "Đã phân bổ, chưa chi: 0 ₫",
        "Chưa phân bổ: 3.000.000 ₫",
    ]


def test_nothing_to_draw_says_so() -> None:
    tree = parsed(grouped([], [], []))
    assert tree.findtext(f"{NS}text") == "Chưa có số liệu."
    assert bars(tree) == []
    nothing = [charts.Part("Đã chi", "disbursed", 0)]
    empty = charts.stacked_bar(
        key="s", title="t", description="d", parts=nothing, full=money, empty="Chưa có tiền."
    )
    assert parsed(empty).findtext(f"{NS}text") == "Chưa có tiền."


@pytest.mark.parametrize(
    ("amount", "vietnamese", "english"),
    [
        (0, "0", "0"),
        (950, "950", "950"),
        (500_000, "500 nghìn", "500k"),
        (1_250_000, "1,25 tr", "1.25M"),
        (12_500_000, "12,5 tr", "12.5M"),
        (350_000_000, "350 tr", "350M"),
        (999_999_999, "1 tỷ", "1bn"),
        (1_250_000_000, "1,25 tỷ", "1.25bn"),
        (2_000_000_000_000, "2000 tỷ", "2000bn"),
        (-300_000, "\N{MINUS SIGN}300 nghìn", "\N{MINUS SIGN}300k"),
    ],
)
def test_short_amounts_read_naturally_in_each_language(
    amount: int, vietnamese: str, english: str
) -> None:
    assert charts.compact(amount, "vi") == vietnamese
    assert charts.compact(amount, "en") == english


# -- periods -------------------------------------------------------------------------------


def test_money_within_three_months_is_shown_by_week_with_its_gaps() -> None:
    found = timeline.gather(
        {"2026-03-04": 100, "2026-03-05": 50, "2026-03-23": 70},  # a Wednesday, a Monday
        {"2026-03-10": 30},
    )
    assert found.step == "week"
    assert [(p.starts.isoformat(), p.money_in, p.money_out) for p in found.periods] == [
        ("2026-03-02", 150, 0),
        ("2026-03-09", 0, 30),
        ("2026-03-16", 0, 0),
        ("2026-03-23", 70, 0),
    ]
    assert (found.money_in, found.money_out) == (220, 30)


def test_money_over_months_is_shown_by_month_across_the_new_year() -> None:
    found = timeline.gather({"2025-11-30": 5, "2026-02-01": 7}, {"2025-12-31": 2})
    assert found.step == "month"
    assert [p.starts for p in found.periods] == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]
    assert [p.money_in for p in found.periods] == [5, 0, 0, 7]
    assert [p.money_out for p in found.periods] == [0, 2, 0, 0]


def test_money_over_more_than_three_years_is_shown_by_year() -> None:
    found = timeline.gather({"2020-06-01": 1, "2024-01-15": 2}, {})
    assert found.step == "year"
    assert [(p.starts.year, p.money_in) for p in found.periods] == [
        (2020, 1), (2021, 0), (2022, 0), (2023, 0), (2024, 2),
    ]  # fmt: skip
    assert timeline.gather({}, {}).periods == ()


@pytest.mark.parametrize(
    ("first", "last", "step"),
    [
        ("2026-01-01", "2026-01-01", "week"),
        ("2026-01-31", "2026-03-01", "week"),
        ("2026-01-31", "2026-04-01", "month"),
        ("2024-01-01", "2026-12-31", "month"),
        ("2024-01-01", "2027-01-01", "year"),
    ],
)
def test_the_step_follows_the_span(first: str, last: str, step: str) -> None:
    assert timeline.step_for(date.fromisoformat(first), date.fromisoformat(last)) == step
