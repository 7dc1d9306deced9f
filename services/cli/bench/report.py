"""The bench result as rows for a terminal table (the JSON output is the result itself)."""

from __future__ import annotations

from typing import Any


def _lat(stats: dict[str, Any]) -> str:
    return " / ".join("-" if stats[k] is None else f"{stats[k]:.0f}" for k in ("p50", "p95", "p99")) + " ms"


def rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    per = result["per_order"]
    cpu = result["cpu_ms_per_order"]
    out = [
        ("mode", result["mode"]),
        ("machine load (1/5/15 min) before / after",
         f"{result['machine']['loadavg_before']} / {result['machine']['loadavg_after']}"),
        ("orders", ", ".join(f"{k} {v}" for k, v in result["orders"]["outcome"].items())
         + (f"; {result['orders']['failed_requests']} failed requests" if result["orders"]["failed_requests"] else "")
         + (f"; {result['orders']['late_starts']} sent late" if result["orders"]["late_starts"] else "")),
        ("throughput (completed orders/s)", f"{result['throughput_orders_per_s']}"),
        ("end to end p50 / p95 / p99", _lat(result["end_to_end_ms"])),
        ("intake POST /orders p50 / p95 / p99", _lat(result["intake_ms"])),
        ("CPU ms per order: total (services)", f"{cpu['total']} ({cpu['services']})"),
        ("CPU ms per order by process", ", ".join(f"{k} {v}" for k, v in cpu.items() if k not in ("total", "services"))),
        ("Kafka records / offset-commit records per order", f"{per['kafka_records']} / {per['offset_commit_records']}"),
        ("messages handled per order", f"{per['messages_handled']}"),
        ("PostgreSQL transactions / WAL bytes per order", f"{per['pg_transactions']} / {per['wal_bytes']}"),
        ("peak RSS MiB (postgres: PSS)", ", ".join(f"{k} {v}" for k, v in result["peak_rss_mib"].items())),
    ]
    if result.get("missing_processes"):
        out.append(("processes not found (not measured)", ", ".join(result["missing_processes"])))
    if "versus_bound" in result:
        vs, bound = result["versus_bound"], result["bound"]
        out += [
            ("bound: Kafka produce / consume records/s",
             f"{bound['kafka']['producer_records_per_s']:.0f} / {bound['kafka']['consumer_records_per_s']:.0f}"),
            ("bound: PostgreSQL messages/s (1 / 20 per txn)",
             f"{bound['postgres']['one_message_per_txn']['messages_per_s']:.0f} / "
             f"{bound['postgres']['twenty_messages_per_txn']['messages_per_s']:.0f}"),
            ("baseline: messages/s, CPU ms per message",
             f"{bound['baseline']['messages_per_s']}, {bound['baseline']['cpu_ms_per_message']['total']}"),
            ("bound in orders/s: Kafka / PostgreSQL (20 per txn) / baseline",
             f"{vs['kafka_bound_orders_per_s']} / {vs['postgres_bound_orders_per_s']['twenty_messages_per_txn']} / "
             f"{vs['baseline_orders_per_s']}"),
            ("orderflow throughput % of Kafka / PostgreSQL / baseline",
             f"{vs['throughput_pct_of_kafka_bound']} / {vs['throughput_pct_of_postgres_bound_batched']} / "
             f"{vs['throughput_pct_of_baseline']}"),
            ("baseline CPU ms per order; orderflow CPU efficiency % of it",
             f"{vs['baseline_cpu_ms_per_order']}; {vs['cpu_efficiency_pct_of_baseline']}"),
        ]
    return out
