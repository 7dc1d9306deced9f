"""Small server-side SVG charts (pure): bars over periods for the KPI page, a sparkline for lag.
Every text is escaped; each chart has a role="img" label that says what it shows, and the pages
carry the same numbers in a table."""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Any

BAR, EMPTY, INK, MUTED, GRID = "#0b57d0", "#c4c7c5", "#1f1f1f", "#4a4f55", "#e3e3e3"


def number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(Decimal(str(value)))
    except (ArithmeticError, ValueError):
        return None


def shown(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "%":
        return f"{value * 100:.0f}%"
    if unit == "s":
        return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min" if value < 7200 else f"{value / 3600:.1f} h"
    return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"


def bars(series: list[tuple[str, float | None]], *, title: str, unit: str = "", top: float | None = None,
         width: int = 360, height: int = 150) -> str:
    """Vertical bars, one per period; a period without data is a grey stub marked "–"."""
    left, bottom, head = 8, 26, 16
    values = [v for _, v in series if v is not None]
    peak = top if top is not None else max([*values, 0.0]) or 1.0
    slot = (width - left * 2) / max(len(series), 1)
    bar_width = max(min(slot * 0.7, 42), 3)
    plot = height - bottom - head
    summary = ", ".join(f"{label}: {shown(v, unit)}" for label, v in series) or "no data"
    out = [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(title)}: {escape(summary)}">',
           f'<line x1="{left}" y1="{height - bottom}" x2="{width - left}" y2="{height - bottom}" stroke="{MUTED}"/>']
    every = max(1, round(len(series) / 8))          # at most ~8 period labels
    for i, (label, value) in enumerate(series):
        x = left + i * slot + (slot - bar_width) / 2
        if value is None:
            out.append(f'<rect x="{x:.1f}" y="{height - bottom - 2}" width="{bar_width:.1f}" height="2" fill="{EMPTY}"/>')
        else:
            h = max(plot * min(value / peak, 1.0), 1.0) if peak else 1.0
            out.append(f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{bar_width:.1f}" height="{h:.1f}" '
                       f'fill="{BAR}"><title>{escape(label)}: {escape(shown(value, unit))}</title></rect>')
            if len(series) <= 12:
                out.append(f'<text x="{x + bar_width / 2:.1f}" y="{height - bottom - h - 3:.1f}" font-size="10" '
                           f'text-anchor="middle" fill="{INK}">{escape(shown(value, unit))}</text>')
        if i % every == 0:
            out.append(f'<text x="{x + bar_width / 2:.1f}" y="{height - 9}" font-size="10" text-anchor="middle" '
                       f'fill="{MUTED}">{escape(label[-5:] if len(label) > 7 else label)}</text>')
    out.append("</svg>")
    return "".join(out)
