"""Statistics and plain-text tables: every figure beside its baseline, ratio and verdict."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

PASS = "PASS"  # noqa: S105 (a verdict, not a password)
MISS = "MISS"
INFO = ""
NOT_RUN = "n/a"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least ``fraction`` at or below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(math.ceil(fraction * len(ordered)), 1)
    return ordered[rank - 1]


def ratio(ours: float, baseline: float) -> float:
    return ours / baseline if baseline and not math.isnan(baseline) else math.nan


def verdict(ok: bool) -> str:
    return PASS if ok else MISS


def size_label(n: int) -> str:
    """10^4 style for powers of ten, digits with thin separators otherwise."""
    exponent = round(math.log10(n)) if n > 0 else 0
    if n > 0 and 10**exponent == n:
        return f"10^{exponent}"
    return f"{n:,}"


def rate(value: float) -> str:
    """An entries-per-second or similar figure, to three significant digits."""
    if math.isnan(value):
        return "-"
    if value >= 1e6:
        return f"{value / 1e6:.2f} M/s"
    if value >= 1e3:
        return f"{value / 1e3:.1f} k/s"
    return f"{value:.0f} /s"


def mb_per_s(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f} MB/s"


def ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    value = seconds * 1000
    return f"{value:.3f} ms" if value < 10 else f"{value:.1f} ms"


def secs(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds:.1f} s"


def mib(size: float) -> str:
    if math.isnan(size):
        return "-"
    return f"{size / (1 << 20):.1f} MB" if size >= 1 << 20 else f"{size / 1024:.0f} KB"


def times(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}x"


@dataclass
class Table:
    """A titled table of strings; the last column is usually the verdict."""

    title: str
    columns: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: str) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: row has {len(cells)} cells, want {len(self.columns)}")
        self.rows.append(cells)

    def render(self) -> str:
        widths = [
            max(len(str(row[i])) for row in [self.columns, *self.rows])
            for i in range(len(self.columns))
        ]

        def line(cells: Sequence[str]) -> str:
            first, *rest = cells
            parts = [str(first).ljust(widths[0])]
            parts += [str(c).rjust(w) for c, w in zip(rest, widths[1:], strict=True)]
            return "  ".join(parts).rstrip()

        rule = "-" * len(line(self.columns))
        out = [self.title, rule, line(self.columns), rule]
        out += [line(row) for row in self.rows]
        out.append(rule)
        out += [f"  {note}" for note in self.notes]
        return "\n".join(out)
