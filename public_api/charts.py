"""Charts drawn on the server as SVG: no script, no library, readable on a 360 px phone.

Each function takes plain values (labels, names, amounts in đồng) and returns the
``<svg>`` element as ``Markup`` to put in a page. Every text that reaches the drawing
(a fund's name, a label, a title) goes through ``Markup.format``, which escapes it, so
data can never become markup; numbers are written by this module. The drawing is
sized by its ``viewBox`` only and scales to its container (``svg.chart`` in site.css
gives the width and the colours), and a bar's exact amount is in its ``data-value``
and its tooltip. Pages put a table of the same figures beside each chart: the table,
not the drawing, is what a screen reader and a careful reader use.

Bars run sideways, one group of bars per label with the label above it, so that long
names and many periods both fit the width of a phone: more groups make a taller
chart, never a narrower bar.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup

from ledger.funds.text import format_vnd

WIDTH = 320  # drawing units, letters 13 high; scaled to its box, at most 24rem wide
VALUE_ROOM = 80  # right of the longest bar: its amount
LABEL_HEIGHT = 20
BAR_HEIGHT = 13
BAR_GAP = 4
GROUP_GAP = 10
LEGEND_LINE = 20
SWATCH = 13
LONGEST_LABEL = 40  # characters: about the width of the drawing at its font size

_KEY = re.compile(r"[a-z][a-z0-9-]{0,40}")
_TONE = re.compile(r"[a-z][a-z-]{0,20}")

Short = Callable[[int], str]


@dataclass(frozen=True)
class Series:
    """One kind of bar: its name in the legend, its colour (``tone-<tone>``), one amount
    per label."""

    name: str
    tone: str
    values: Sequence[int]


@dataclass(frozen=True)
class Part:
    """One share of a stacked bar."""

    name: str
    tone: str
    amount: int


def compact(amount: int, language: str = "vi") -> str:
    """An amount short enough for the end of a bar: ``1,25 tỷ``, ``350 tr`` (in English
    ``1.25bn``, ``350M``)."""
    units = (
        ((1_000_000_000, "tỷ"), (1_000_000, "tr"), (1_000, "nghìn"))
        if language == "vi"
        else ((1_000_000_000, "bn"), (1_000_000, "M"), (1_000, "k"))
    )
    sign, size = ("\N{MINUS SIGN}" if amount < 0 else ""), abs(amount)
    for index, (unit, name) in enumerate(units):
        if size < unit:
            continue
        number = _significant(size / unit)
        if float(number) >= 1000 and index > 0:  # 999.95 million rounds up to a billion
            unit, name = units[index - 1]
            number = _significant(size / unit)
        if language == "vi":
            return f"{sign}{number.replace('.', ',')} {name}"
        return f"{sign}{number}{name}"
    return f"{sign}{format_vnd(size)}"


def _significant(value: float) -> str:
    """Three significant digits at most, without trailing zeros: 1.25, 12.5, 125."""
    digits = 2 if value < 10 else 1 if value < 100 else 0
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _checked(key: str, tones: Sequence[str]) -> None:
    """Ids and classes come from the code, never from data; refuse anything else."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"a chart key is lower-case letters, digits and dashes: {key!r}")
    for tone in tones:
        if not _TONE.fullmatch(tone):
            raise ValueError(f"a tone is lower-case letters and dashes: {tone!r}")


def _n(value: float) -> str:
    """A coordinate as few characters as it needs."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _clipped(text: str) -> str:
    return text if len(text) <= LONGEST_LABEL else text[: LONGEST_LABEL - 1].rstrip() + "…"


def _open(key: str, title: str, description: str, height: float) -> Markup:
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {w} {h}" '
        'role="img" aria-labelledby="{k}-title {k}-desc" focusable="false">'
        '<title id="{k}-title">{title}</title><desc id="{k}-desc">{desc}</desc>'
    ).format(w=WIDTH, h=_n(height), k=key, title=title, desc=description)


def _legend(entries: Sequence[tuple[str, str]], top: float) -> list[Markup]:
    """One line per entry (a swatch and its name): a line of its own fits any phone."""
    drawn = []
    for line, (name, tone) in enumerate(entries):
        y = top + line * LEGEND_LINE
        drawn.append(
            Markup(
                '<g class="legend"><rect class="swatch tone-{tone}" x="0" y="{y}" '
                'width="{s}" height="{s}" rx="2"/><text x="{tx}" y="{ty}">{name}</text></g>'
            ).format(tone=tone, y=_n(y), s=SWATCH, tx=SWATCH + 6, ty=_n(y + SWATCH - 1), name=name)
        )
    return drawn


def _empty(key: str, title: str, description: str, empty: str) -> Markup:
    return _open(key, title, description, 40) + Markup(
        '<text class="empty" x="0" y="24">{}</text></svg>'
    ).format(empty)


def grouped_bars(
    *,
    key: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    short: Short,
    full: Short,
    empty: str,
) -> Markup:
    """Bars grouped by label, one bar per series, all on one scale starting at zero.

    ``short`` writes an amount at the end of its bar, ``full`` in its tooltip; a
    negative amount draws no bar but still says its amount. ``empty`` is said instead
    of a drawing when there are no labels.
    """
    _checked(key, [s.tone for s in series])
    if any(len(s.values) != len(labels) for s in series):
        raise ValueError("every series needs one amount per label")
    if not labels:
        return _empty(key, title, description, empty)
    legend_height = len(series) * LEGEND_LINE + 6
    group_height = LABEL_HEIGHT + len(series) * (BAR_HEIGHT + BAR_GAP) + GROUP_GAP
    height = legend_height + len(labels) * group_height
    largest = max([1, *(value for s in series for value in s.values)])
    scale = (WIDTH - VALUE_ROOM) / largest
    parts = [_open(key, title, description, height)]
    parts += _legend([(s.name, s.tone) for s in series], 0)
    for row, label in enumerate(labels):
        top = legend_height + row * group_height
        parts.append(
            Markup('<g class="group"><text class="label" x="0" y="{y}">{label}</text>').format(
                y=_n(top + LABEL_HEIGHT - 5), label=_clipped(label)
            )
        )
        for number, one in enumerate(series):
            value = one.values[row]
            y = top + LABEL_HEIGHT + number * (BAR_HEIGHT + BAR_GAP)
            length = max(value, 0) * scale
            parts.append(
                Markup(
                    '<rect class="bar tone-{tone}{nil}" x="0" y="{y}" width="{w}" height="{h}" '
                    'data-value="{value}"><title>{tip}</title></rect>'
                    '<text class="value" x="{tx}" y="{ty}">{text}</text>'
                ).format(
                    tone=one.tone,
                    nil=" nil" if length == 0 else "",
                    y=_n(y),
                    w=_n(length),
                    h=BAR_HEIGHT,
                    value=value,
                    tip=f"{label} · {one.name}: {full(value)}",
                    tx=_n(length + 4),
                    ty=_n(y + BAR_HEIGHT - 2),
                    text=short(value),
                )
            )
        parts.append(Markup("</g>"))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def stacked_bar(
    *,
    key: str,
    title: str,
    description: str,
    parts: Sequence[Part],
    full: Short,
    empty: str,
) -> Markup:
    """One bar split into ``parts`` in proportion (where money stands), a legend below.

    Parts at zero or below take no room but keep their line in the legend, with their
    amount, so the legend always lists the same parts as the table beside it.
    """
    _checked(key, [part.tone for part in parts])
    total = sum(max(part.amount, 0) for part in parts)
    if not parts or total == 0:
        return _empty(key, title, description, empty)
    bar_height = 22
    height = bar_height + 10 + len(parts) * LEGEND_LINE
    drawn = [_open(key, title, description, height), Markup('<g class="stack">')]
    x = 0.0
    for part in parts:
        width = max(part.amount, 0) * WIDTH / total
        drawn.append(
            Markup(
                '<rect class="bar tone-{tone}{nil}" x="{x}" y="0" width="{w}" height="{h}" '
                'data-value="{value}"><title>{tip}</title></rect>'
            ).format(
                tone=part.tone,
                nil=" nil" if width == 0 else "",
                x=_n(x),
                w=_n(width),
                h=bar_height,
                value=part.amount,
                tip=f"{part.name}: {full(part.amount)}",
            )
        )
        x += width
    drawn.append(Markup("</g>"))
    entries = [(f"{part.name}: {full(part.amount)}", part.tone) for part in parts]
    drawn += _legend(entries, bar_height + 10)
    drawn.append(Markup("</svg>"))
    return Markup("").join(drawn)
