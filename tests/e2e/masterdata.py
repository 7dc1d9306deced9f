"""Per-test master data: each scenario gets its own SKUs (and test suppliers), registered in every
department's own database as the company's master-data feed would, so scenarios never share stock."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal

from tests.e2e.conftest import E2E

# Behaviour of these suppliers is set in the supplier simulator's environment (conftest.py).
TEST_SUPPLIERS = {"SUP-T-OK": "Reliable Test Supplier", "SUP-T-REJECT": "Always Rejects Ltd",
                  "SUP-T-SILENT": "Never Answers Inc", "SUP-T-SLOW": "Very Slow Deliveries",
                  "SUP-T-LATE": "Always Promises Too Late"}
_counter = itertools.count(1)


async def new_product(e2e: E2E, *, stock: int, price: str = "50.00", suppliers: list[str] = ("SUP-T-OK",),
                      reorder_point: int = 0, reorder_quantity: int | None = None, weight_kg: str = "1.0",
                      prices: dict[str, str] | None = None, tax_class: str | None = None,
                      cost: str | None = None) -> str:
    """A fresh SKU with `stock` on the shelf; `suppliers` in order of preference (first = primary);
    `price` in EUR, `prices` in other currencies; `tax_class` (default: standard)."""
    sku = f"SKU-{e2e.run_id[-6:].upper()}-{next(_counter):03d}"
    conn = await e2e.db("sales")
    try:
        await conn.execute("INSERT INTO products (sku, name, list_price) VALUES ($1, $2, $3)",
                           sku, f"test product {sku}", Decimal(price))
        for currency, amount in (prices or {}).items():
            await conn.execute("INSERT INTO product_prices (sku, currency, list_price) VALUES ($1, $2, $3)",
                               sku, currency, Decimal(amount))
    finally:
        await conn.close()
    conn = await e2e.db("finance")
    try:
        await conn.execute("INSERT INTO price_list (sku, list_price) VALUES ($1, $2)", sku, Decimal(price))
        for currency, amount in (prices or {}).items():
            await conn.execute("INSERT INTO price_list_prices (sku, currency, list_price) VALUES ($1, $2, $3)",
                               sku, currency, Decimal(amount))
        if tax_class:
            await conn.execute("INSERT INTO product_tax_classes (sku, tax_class) VALUES ($1, $2)", sku, tax_class)
    finally:
        await conn.close()
    conn = await e2e.db("warehouse")
    try:
        columns = {r["column_name"] for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'stock'")}
        values = {"sku": sku, "name": f"test product {sku}", "on_hand": stock, "weight_kg": Decimal(weight_kg),
                  "reorder_point": reorder_point}
        if "unit_cost" in columns:      # what the goods on the shelf cost (default: half the price)
            values["unit_cost"] = values["standard_cost"] = Decimal(cost) if cost else Decimal(price) / 2
        if "reorder_quantity" in columns:
            values["reorder_quantity"] = reorder_quantity if reorder_quantity is not None else max(10, 2 * reorder_point)
        names = ", ".join(values)
        params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        await conn.execute(f"INSERT INTO stock ({names}) VALUES ({params})", *values.values())
        await conn.execute("INSERT INTO stock_movements (sku, delta_on_hand, reason) VALUES ($1, $2, 'opening balance')",
                           sku, stock)
    finally:
        await conn.close()
    conn = await e2e.db("procurement")
    try:
        for supplier in suppliers:
            await conn.execute("INSERT INTO suppliers (supplier_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                               supplier, TEST_SUPPLIERS.get(supplier, supplier))
        for rank, supplier in enumerate(suppliers, start=1):
            await conn.execute(
                "INSERT INTO supplier_products (supplier_id, sku, rank, lead_time_days, unit_cost)"
                " VALUES ($1, $2, $3, 3, $4)", supplier, sku, rank, Decimal(price) / 2)
    finally:
        await conn.close()
    return sku


async def new_carrier(e2e: E2E, carrier_id: str, countries: list[str], base_cost: str, transit_days: int = 1) -> None:
    """A carrier in logistics' master data (its behaviour is set in the carrier simulator's environment)."""
    conn = await e2e.db("logistics")
    try:
        await conn.execute(
            "INSERT INTO carriers (carrier_id, name, countries, base_cost, cost_per_kg, transit_days, daily_capacity)"
            " VALUES ($1, $1, $2, $3, 0.10, $4, 100000) ON CONFLICT DO NOTHING",
            carrier_id, countries, Decimal(base_cost), transit_days)
    finally:
        await conn.close()


async def new_customer(e2e: E2E, customer_id: str, *, terms_days: int = 30, credit_limit: str = "50000.00",
                       hold_policy: str | None = None, iban: str | None = None, country: str = "DE",
                       currency: str = "EUR", language: str = "en", channel: str = "email",
                       email: str | None = None, phone: str | None = None) -> str:
    """A customer in sales and finance (and its bank account in finance), as the master-data feed would."""
    conn = await e2e.db("sales")
    try:
        address = {"name": customer_id, "street": "Teststr. 1", "city": "Teststadt", "postal_code": "12345",
                   "country": country}
        await conn.execute("INSERT INTO customers (customer_id, name, default_address, currency, language,"
                           " notification_channel, email, phone) VALUES ($1, $1, $2::jsonb, $3, $4, $5, $6, $7)"
                           " ON CONFLICT DO NOTHING", customer_id, json.dumps(address), currency, language, channel,
                           email or f"{customer_id.lower()}@example.test", phone)
    finally:
        await conn.close()
    conn = await e2e.db("finance")
    try:
        await conn.execute(
            "INSERT INTO customers (customer_id, name, credit_limit, payment_terms_days, max_discount_pct,"
            " credit_hold_policy, currency) VALUES ($1, $1, $2, $3, 0, $4, $5) ON CONFLICT DO NOTHING",
            customer_id, Decimal(credit_limit), terms_days, hold_policy, currency)
        if iban:
            await conn.execute("INSERT INTO customer_bank_accounts (iban, customer_id) VALUES ($1, $2)"
                               " ON CONFLICT DO NOTHING", iban, customer_id)
    finally:
        await conn.close()
    return customer_id
