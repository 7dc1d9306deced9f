"""The topic catalogue: the single declaration of every topic.

Provisioning (`orderflow provision`) creates exactly these; services never auto-create topics.
`writers` and `readers` are the single source of who may do what on the broker: the outbox refuses
to emit to a topic its service may not write, each service subscribes to exactly the topics it
reads (`topics_read_by`), and the broker's ACLs (local provisioning, Strimzi `KafkaUser`
resources) are generated from the same lists (`services/runtime/kafka_acl.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contracts import customer, finance, integrations, logistics, procurement, risk, sales, warehouse
from contracts.envelope import Message, message_types

DEPARTMENTS = ("sales", "procurement", "warehouse", "logistics", "finance")
EXTERNAL_PARTIES = ("carrier", "payments", "supplier", "notifier")   # simulated in development and tests
INTEGRATION = "integration"          # other systems placing orders on sales.commands.v1
OUTSIDE_READER = "outside-reader"    # subscribing systems: read every event topic, write nothing

ORDER_PARTITIONS = 6   # order-scoped topics, keyed by order id; caps a consumer group at 6 members
DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    owner: str
    writers: frozenset[str]
    description: str
    readers: frozenset[str] = frozenset()
    partitions: int = ORDER_PARTITIONS
    retention_ms: int = 7 * DAY_MS
    cleanup_policy: str = "delete"
    configs: dict[str, str] = field(default_factory=dict)

    def kafka_configs(self) -> dict[str, str]:
        return {
            "retention.ms": str(self.retention_ms),
            "cleanup.policy": self.cleanup_policy,
            **self.configs,
        }


def _dept_topics(dept: str, commands_from: set[str], events_read_by: set[str]) -> list[TopicSpec]:
    return [
        TopicSpec(f"{dept}.commands.v1", owner=dept, writers=frozenset(commands_from), readers=frozenset({dept}),
                  description=f"Commands for {dept}: written by the order saga and integrations, read by {dept}"),
        TopicSpec(f"{dept}.events.v1", owner=dept, writers=frozenset({dept}),
                  readers=frozenset({*events_read_by, OUTSIDE_READER}),
                  description=f"Facts published by {dept}; any department and subscribing system may read them"),
        TopicSpec(f"{dept}.dlq.v1", owner=dept, writers=frozenset({dept}), partitions=3,
                  retention_ms=30 * DAY_MS,
                  description=f"Messages {dept} could not process, with the reason and original coordinates"),
    ]


CATALOGUE: dict[str, TopicSpec] = {
    t.name: t
    for t in [
        # Sales takes orders from other systems; the saga in sales commands the departments.
        *_dept_topics("sales", {INTEGRATION}, events_read_by=set()),
        *_dept_topics("finance", {"sales"}, events_read_by={"sales", "warehouse"}),
        *_dept_topics("warehouse", {"sales", "procurement"}, events_read_by={"sales", "procurement", "logistics"}),
        *_dept_topics("logistics", {"sales"}, events_read_by={"sales", "warehouse"}),
        *_dept_topics("procurement", {"sales"}, events_read_by={"sales", "warehouse"}),
        # The company's risk feed: every department raises its risks on its own events topic (only it
        # may write there); sales, the feed's only writer, copies them here with `department` taken
        # from that topic. So "a department writes only its own facts" holds at the broker.
        TopicSpec(risk.RISK_EVENTS, owner="sales", writers=frozenset({"sales"}),
                  readers=frozenset({OUTSIDE_READER}), retention_ms=30 * DAY_MS,
                  description="Risk feed: typed risks (credit, stock, supplier, carrier) raised and closed by the "
                              "department that owns them, relayed by sales"),
        TopicSpec(integrations.CARRIER_REQUESTS, owner="logistics", writers=frozenset({"logistics"}),
                  readers=frozenset({"carrier"}),
                  description="Booking, pickup and cancellation requests to carriers"),
        TopicSpec(integrations.CARRIER_EVENTS, owner="logistics", writers=frozenset({"carrier"}),
                  readers=frozenset({"logistics", OUTSIDE_READER}),
                  description="Carriers' confirmations and tracking updates"),
        TopicSpec(integrations.PAYMENT_REQUESTS, owner="finance", writers=frozenset({"finance"}),
                  readers=frozenset({"payments"}),
                  description="Collection requests to the payment provider"),
        TopicSpec(integrations.PAYMENT_EVENTS, owner="finance", writers=frozenset({"payments"}),
                  readers=frozenset({"finance", OUTSIDE_READER}),
                  description="Settlements and refunds reported by the payment provider"),
        TopicSpec(integrations.SUPPLIER_REQUESTS, owner="procurement", writers=frozenset({"procurement"}),
                  readers=frozenset({"supplier"}),
                  description="Purchase orders and cancellations sent to suppliers"),
        TopicSpec(integrations.SUPPLIER_EVENTS, owner="procurement", writers=frozenset({"supplier"}),
                  readers=frozenset({"procurement", OUTSIDE_READER}),
                  description="Suppliers' confirmations, rejections and deliveries"),
        TopicSpec(customer.NOTIFICATIONS, owner="sales", writers=frozenset({"sales"}), readers=frozenset({"notifier"}),
                  retention_ms=30 * DAY_MS,
                  description="Messages to customers (confirmed, shipped, delayed, delivered, invoice, reminder, "
                              "returns) for the notification service, in each customer's channel and language"),
        TopicSpec(customer.RECEIPTS, owner="sales", writers=frozenset({"notifier"}), readers=frozenset({"sales"}),
                  retention_ms=30 * DAY_MS,
                  description="The notification service's receipts: what was sent to whom, on which channel"),
    ]
}

# Keep the imports referenced: each module registers its messages on import.
_MODULES = (sales, finance, warehouse, logistics, procurement, integrations, customer, risk)


def topic_for(message: type[Message] | Message) -> TopicSpec:
    return CATALOGUE[message.TOPIC]


def messages_on(topic: str) -> list[type[Message]]:
    return [m for m in message_types().values() if m.TOPIC == topic]


def topics_read_by(principal: str) -> list[str]:
    """The catalogue topics a principal consumes (a service subscribes to exactly these)."""
    return [spec.name for spec in CATALOGUE.values() if principal in spec.readers]


def topics_written_by(principal: str) -> list[str]:
    return [spec.name for spec in CATALOGUE.values() if principal in spec.writers]


def principals() -> list[str]:
    """Every Kafka identity the catalogue names, in a stable order."""
    named = {p for spec in CATALOGUE.values() for p in (*spec.writers, *spec.readers)}
    order = [*DEPARTMENTS, *EXTERNAL_PARTIES, INTEGRATION, OUTSIDE_READER]
    return [p for p in order if p in named] + sorted(named - set(order))


def dlq_topic(service: str) -> str:
    return f"{service}.dlq.v1"


def validate_catalogue() -> list[str]:
    """Problems in the catalogue (empty when consistent). Checked by a unit test."""
    problems = []
    for type_name, model in message_types().items():
        if model.TOPIC not in CATALOGUE:
            problems.append(f"{type_name}: topic {model.TOPIC!r} is not in the catalogue")
        if not type_name.split(".")[0] in {*DEPARTMENTS, "carrier", "payments", "supplier", "customer", "risk"}:
            problems.append(f"{type_name}: type must start with its department or integration")
    for spec in CATALOGUE.values():
        if spec.partitions < 3 and not spec.name.endswith(".dlq.v1"):
            problems.append(f"{spec.name}: order-scoped topics need >= 3 partitions")
        if spec.name.endswith(".events.v1") and OUTSIDE_READER not in spec.readers:
            problems.append(f"{spec.name}: every event topic is readable by {OUTSIDE_READER}")
        if OUTSIDE_READER in spec.writers:
            problems.append(f"{spec.name}: {OUTSIDE_READER} writes nothing")
    return problems
