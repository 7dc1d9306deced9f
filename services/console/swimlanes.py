"""An order's timeline as a picture: one swimlane per department, time running left to right,
drawn server-side as SVG (pure: entries in, markup out; escaped by Jinja's Markup rules).

- a command is an arrow from the sales lane (the saga) into the department it is sent to;
- an event is a dot in the lane of the department that published it;
- a status change is a flag on the sales lane, a person's action a square naming them;
- compensations (releases, refunds, credit notes, cancelled bookings and purchases, recalls) are
  red diamonds and red arrows, so a cancellation reads at a glance.

The time axis is compressed: every entry gets a column of its own (a saga writes several entries
within milliseconds), and a quiet gap adds room growing with its logarithm; ticks give the time
since the order was placed, and a gap over a minute is marked on the axis. Each marker has a
<title> (the time, the type, who) for hover and screen readers; the table under the picture
lists the same entries.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from html import escape
from typing import Any

LANES = ("sales", "finance", "warehouse", "logistics", "procurement")
COMPENSATING_TYPES = {
    "finance.release_credit", "finance.credit_invoices", "finance.refund_payments", "logistics.cancel_shipment",
    "logistics.recall_shipments", "procurement.cancel_purchase", "warehouse.release_reservation",
    "finance.credit_released", "warehouse.reservation_released", "finance.credit_note_issued",
    "finance.payment_refunded", "logistics.shipment_cancelled", "logistics.shipment_returned",
    "procurement.purchase_order_cancelled", "logistics.recall_failed",
}
STATUS_COLOURS = {"completed": "#1b6e20", "rejected": "#b3261e", "cancelled": "#8a4b00", "cancelling": "#b3261e"}
COLUMN = 30           # px per entry
LANE_HEIGHT = 96
LEFT = 104            # lane titles
TITLES_WIDTH = 116    # the titles' own column (lane_titles): "procurement" in bold fits
TOP = 10
AXIS = 34
MIN_WIDTH = 1000
INK, MUTED, COMMAND, EVENT, RED = "#1f1f1f", "#5f6368", "#3f51b5", "#0b57d0", "#b3261e"


@dataclass(frozen=True)
class Placed:
    x: float
    entry: dict[str, Any]
    at: dt.datetime


def _time(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def is_compensation(entry: dict[str, Any]) -> bool:
    return (entry.get("type") in COMPENSATING_TYPES or str(entry.get("type", "")).endswith(".compensation_done")
            or (entry.get("kind") == "status" and entry.get("type") in ("cancelling", "cancelled")))


def elapsed(seconds: float) -> str:
    if seconds < 1:
        return f"+{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"+{seconds:.1f} s"
    if seconds < 3600:
        return f"+{seconds / 60:.1f} min"
    if seconds < 86400:
        return f"+{seconds / 3600:.1f} h"
    return f"+{seconds / 86400:.1f} d"


def place(entries: list[dict[str, Any]]) -> list[Placed]:
    """x positions: one column each, plus room for quiet gaps (log-compressed)."""
    placed: list[Placed] = []
    x = LEFT + COLUMN / 2
    previous: dt.datetime | None = None
    for entry in entries:
        at = _time(entry["at"])
        if previous is not None:
            gap = max((at - previous).total_seconds(), 0.0)
            x += COLUMN + min(90.0, 22.0 * math.log10(1 + gap / 0.5))
        placed.append(Placed(x, entry, at))
        previous = at
    return placed


def lanes_of(entries: list[dict[str, Any]]) -> list[str]:
    seen = {e.get("department") for e in entries}
    return [*LANES, *sorted(d for d in seen if d and d not in LANES)] if entries else list(LANES)


def short(type_: str) -> str:
    name = type_.split(".", 1)[-1].replace("_", " ")
    return name if len(name) <= 18 else name[:17] + "…"


def _who(entry: dict[str, Any]) -> str:
    by = entry.get("initiated_by") or {}
    detail = entry.get("detail") or {}
    name = detail.get("name") if entry.get("kind") == "action" else None
    name = name or (by.get("name") if isinstance(by, dict) else None)
    return f" — by {name}" if name else ""


def lane_titles(entries: list[dict[str, Any]]) -> str:
    """The lane titles alone, as a narrow SVG of the picture's height: the page keeps them in view
    while the picture scrolls sideways to its latest entries (render(..., titles=False))."""
    lanes = lanes_of(entries)
    height = TOP + len(lanes) * LANE_HEIGHT + AXIS
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="swimlane-titles" width="{TITLES_WIDTH}" height="{height}" '
           f'viewBox="0 0 {TITLES_WIDTH} {height}" aria-hidden="true">']
    for i, name in enumerate(lanes):
        y = TOP + i * LANE_HEIGHT
        out.append(f'<rect x="0" y="{y}" width="{TITLES_WIDTH}" height="{LANE_HEIGHT}" fill="{_stripe(i)}"/>')
        out.append(f'<text x="8" y="{y + LANE_HEIGHT - 14}" font-size="13" font-weight="600" fill="{INK}">'
                   f'{escape(name)}</text>')
    return "".join(out) + "</svg>"


def _stripe(i: int) -> str:
    return "#f3f6fb" if i % 2 == 0 else "#ffffff"


def render(entries: list[dict[str, Any]], *, title: str = "Order timeline", titles: bool = True) -> str:
    """The SVG markup (a string safe to embed: every text is escaped); `titles=False` leaves the lane
    titles to lane_titles()."""
    placed = place(entries)
    lanes = lanes_of(entries)
    lane_y = {name: TOP + i * LANE_HEIGHT for i, name in enumerate(lanes)}
    width = max(MIN_WIDTH, int((placed[-1].x if placed else LEFT) + COLUMN * 5))
    height = TOP + len(lanes) * LANE_HEIGHT + AXIS
    base = lane_y["sales"] + LANE_HEIGHT - 18
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="swimlanes" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" aria-labelledby="swimlanes-title">',
           f'<title id="swimlanes-title">{escape(title)}: {len(entries)} entries in {len(lanes)} lanes</title>',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
           f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{COMMAND}"/></marker>'
           '<marker id="arrow-red" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
           f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{RED}"/></marker></defs>']
    for i, name in enumerate(lanes):
        y = lane_y[name]
        out.append(f'<rect x="0" y="{y}" width="{width}" height="{LANE_HEIGHT}" fill="{_stripe(i)}"/>')
        out.append(f'<line x1="{LEFT - 6}" y1="{y + LANE_HEIGHT - 18}" x2="{width}" y2="{y + LANE_HEIGHT - 18}" '
                   f'stroke="#c4c7c5"/>')
        if titles:
            out.append(f'<text x="8" y="{y + LANE_HEIGHT - 14}" font-size="13" font-weight="600" fill="{INK}">'
                       f'{escape(name)}</text>')
    axis_y = TOP + len(lanes) * LANE_HEIGHT
    out.append(f'<line x1="{LEFT - 6}" y1="{axis_y}" x2="{width}" y2="{axis_y}" stroke="{MUTED}"/>')
    start = placed[0].at if placed else None
    last_tick = -1e9
    for i, p in enumerate(placed):
        if start is not None and p.x - last_tick >= 110:
            label = elapsed((p.at - start).total_seconds()) if i else p.at.strftime("%H:%M:%S")
            out.append(f'<line x1="{p.x:.1f}" y1="{axis_y}" x2="{p.x:.1f}" y2="{axis_y + 5}" stroke="{MUTED}"/>')
            out.append(f'<text x="{p.x:.1f}" y="{axis_y + 18}" font-size="11" text-anchor="middle" '
                       f'fill="{MUTED}">{escape(label)}</text>')
            last_tick = p.x
        if i and (p.at - placed[i - 1].at).total_seconds() >= 60:
            mid = (p.x + placed[i - 1].x) / 2
            out.append(f'<text x="{mid:.1f}" y="{axis_y - 4}" font-size="11" text-anchor="middle" fill="{MUTED}">'
                       f'≈ {escape(elapsed((p.at - placed[i - 1].at).total_seconds())[1:])}</text>')
        out.append(_marker(p, lane_y, base))
    out.append("</svg>")
    return "".join(out)


def _marker(p: Placed, lane_y: dict[str, int], sales_base: int) -> str:
    entry = p.entry
    kind, type_ = entry.get("kind", "event"), str(entry.get("type", ""))
    lane = entry.get("department") if entry.get("department") in lane_y else "sales"
    y = lane_y[lane] + LANE_HEIGHT - 18
    red = is_compensation(entry)
    colour = RED if red else {"command": COMMAND, "action": INK}.get(kind, EVENT)
    label = short(type_) if kind != "status" else type_
    tip = f"{p.at.strftime('%H:%M:%S.%f')[:-3]} {lane} {kind}: {type_}{_who(entry)}"
    parts = [f'<g class="entry {escape(kind)}{" compensation" if red else ""}"><title>{escape(tip)}</title>']
    if kind == "command" and lane != "sales":
        parts.append(f'<line x1="{p.x:.1f}" y1="{sales_base}" x2="{p.x:.1f}" y2="{y - 7 if y > sales_base else y + 7}" '
                     f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="{"4 2" if not red else "none"}" '
                     f'marker-end="url(#{"arrow-red" if red else "arrow"})"/>')
    if red:
        parts.append(f'<path d="M{p.x:.1f},{y - 7} l7,7 l-7,7 l-7,-7 z" fill="{RED}"/>')
    elif kind == "status":
        colour = STATUS_COLOURS.get(type_, "#3c4043")
        parts.append(f'<path d="M{p.x:.1f},{y} v-16 h10 l-3,4 l3,4 h-10" fill="{colour}" stroke="{colour}"/>')
    elif kind == "action":
        parts.append(f'<rect x="{p.x - 6:.1f}" y="{y - 6}" width="12" height="12" fill="#ffffff" stroke="{INK}" '
                     'stroke-width="2"/>')
        label = f"{label} ({(entry.get('detail') or {}).get('user', '?')})"
    elif kind == "command":
        parts.append(f'<circle cx="{p.x:.1f}" cy="{y}" r="5" fill="#ffffff" stroke="{colour}" stroke-width="2"/>')
    elif kind == "saga":
        parts.append(f'<circle cx="{p.x:.1f}" cy="{y}" r="3" fill="{MUTED}"/>')
        label = ""
    else:
        parts.append(f'<circle cx="{p.x:.1f}" cy="{y}" r="5.5" fill="{colour}"/>')
    if label:
        fill = RED if red else INK
        dx, dy = (13, 14) if kind == "status" else (5, 10)        # clear of the flag / the dot
        weight = ' font-weight="600"' if kind == "status" else ""
        parts.append(f'<text x="{p.x + dx:.1f}" y="{y - dy}" font-size="10.5" fill="{fill}"{weight} '
                     f'transform="rotate(-38 {p.x + dx:.1f} {y - dy})">{escape(label)}</text>')
    parts.append("</g>")
    return "".join(parts)
