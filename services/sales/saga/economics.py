"""Cost and margin of an order (pure): the facts learnt from the departments' events, and the margin
per line and per order computed from them.

Facts: what each shipment's goods cost (warehouse, moving average at dispatch), what each booked
shipment costs (logistics), the net of each invoice (finance; dunning charges are not sales) and of
each credit note. Amounts of the order are in its currency; costs are in the base currency (EUR);
the margin is in the base currency, revenue converted at the order's rate fixed at placement.

    net revenue   = invoiced net - credited net                  (as finance booked it)
    cost of goods = goods shipped at cost - returned goods restocked at the cost they left with
                    (scrapped goods stay a cost)
    shipping      = cost of the shipments handed to a carrier
    margin        = net revenue - cost of goods - shipping;  margin % = margin / net revenue

Per line: revenue = unit price x (shipped - returned), cost = its goods' cost, margin = the
difference (shipping and credit notes not tied to goods count only for the order).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from contracts import finance, logistics, warehouse
from contracts.envelope import Message
from services.sales.saga.state import Order, updated

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def learn(order: Order, m: Message) -> Order:
    """The economic facts a message carries (idempotent: keyed by shipment, invoice, credit note)."""
    if isinstance(m, warehouse.OrderDispatched) and m.costs is not None and m.shipment_id not in order.goods_costs:
        return updated(order, goods_costs={**order.goods_costs, m.shipment_id: list(m.costs)})
    if isinstance(m, logistics.ShipmentBooked) and m.cost is not None:
        if order.shipping_costs.get(m.shipment_id) != m.cost:
            return updated(order, shipping_costs={**order.shipping_costs, m.shipment_id: m.cost})
    if isinstance(m, finance.InvoiceIssued) and m.kind != "charge" and m.invoice_number not in order.invoiced_net:
        net = m.net if m.net is not None else m.amount
        return updated(order, invoiced_net={**order.invoiced_net, m.invoice_number: net})
    if isinstance(m, finance.CreditNoteIssued) and m.credit_note_number not in order.credited_net:
        invoice_is_charge = order.invoiced_net and m.invoice_number not in order.invoiced_net
        if not invoice_is_charge:
            net = m.net if m.net is not None else m.amount
            return updated(order, credited_net={**order.credited_net, m.credit_note_number: net})
    return order


def returned_units(order: Order) -> dict[str, int]:
    """Per SKU: units of completed or inspected returns (restocked or scrapped)."""
    units: dict[str, int] = {}
    for case in order.returns:
        for line in (*case.restocked, *case.scrapped):
            units[line.sku] = units.get(line.sku, 0) + line.quantity
    return units


def restocked_units(order: Order) -> dict[str, int]:
    units: dict[str, int] = {}
    for case in order.returns:
        for line in case.restocked:
            units[line.sku] = units.get(line.sku, 0) + line.quantity
    return units


def goods_cost(order: Order) -> dict[str, tuple[int, Decimal]]:
    """Per SKU: (units shipped, their cost) from the dispatched shipments' costs."""
    shipped: dict[str, tuple[int, Decimal]] = {}
    for shipment_id, costs in order.goods_costs.items():
        if shipment_id in order.returned:      # recalled by a cancellation: back on the shelf, no cost
            continue
        for c in costs:
            units, value = shipped.get(c.sku, (0, ZERO))
            shipped[c.sku] = (units + c.quantity, value + c.unit_cost * c.quantity)
    return shipped


def margin(order: Order) -> dict[str, Any]:
    rate = order.fx_rate
    shipped = goods_cost(order)
    restocked, returned = restocked_units(order), returned_units(order)
    lines, cogs_total = [], ZERO
    for line in order.lines:
        units, value = shipped.get(line.sku, (0, ZERO))
        unit_cost = value / units if units else ZERO
        cost = cents(value - unit_cost * restocked.get(line.sku, 0))
        cogs_total += cost
        sold = max(0, units - returned.get(line.sku, 0))
        revenue = cents(line.unit_price * sold * rate)
        lines.append({"sku": line.sku, "units_sold": sold, "revenue": revenue, "cost_of_goods": cost,
                      "margin": revenue - cost, "margin_pct": pct(revenue - cost, revenue)})
    revenue_net = sum(order.invoiced_net.values(), ZERO) - sum(order.credited_net.values(), ZERO)
    revenue_base = cents(revenue_net * rate)
    shipping = cents(sum((cost for shipment, cost in order.shipping_costs.items()
                          if shipment in order.dispatched and shipment not in order.returned), ZERO))
    total = revenue_base - cogs_total - shipping
    return {"currency": "EUR", "order_currency": order.currency, "fx_rate": str(rate),
            "net_revenue_order_currency": cents(revenue_net), "net_revenue": revenue_base,
            "cost_of_goods": cogs_total, "shipping": shipping, "margin": total, "margin_pct": pct(total, revenue_base),
            "lines": lines}


def pct(part: Decimal, whole: Decimal) -> Decimal | None:
    return (part * 100 / whole).quantize(CENT, rounding=ROUND_HALF_UP) if whole > 0 else None
