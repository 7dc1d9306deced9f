"""The topic catalogue: the single declaration of every topic.

Provisioning (`orderflow topics create`) creates exactly these; services never auto-create
topics. `writers` is enforced twice: the outbox refuses to emit to a topic its service may not
write, and in production the same list becomes Kafka ACLs (deploy/k8s).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contracts import finance, integrations, logistics, procurement, sales, warehouse
from contracts.envelope import Message, message_types

DEPARTMENTS = ("sales", "procurement", "warehouse", "logistics", "finance")

ORDER_PARTITIONS = 6   # order-scoped topics, keyed by order id; caps a consumer group at 6 members
DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    owner: str
    writers: frozenset[str]
    description: str
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


def _dept_topics(dept: str, commands_from: set[str]) -> list[TopicSpec]:
    return [
        TopicSpec(f"{dept}.commands.v1", owner=dept, writers=frozenset(commands_from),
                  description=f"Commands for {dept}: written by the order saga and integrations, read by {dept}"),
        TopicSpec(f"{dept}.events.v1", owner=dept, writers=frozenset({dept}),
                  description=f"Facts published by {dept}; anyone may read them"),
        TopicSpec(f"{dept}.dlq.v1", owner=dept, writers=frozenset({dept}), partitions=3,
                  retention_ms=30 * DAY_MS,
                  description=f"Messages {dept} could not process, with the reason and original coordinates"),
    ]


CATALOGUE: dict[str, TopicSpec] = {
    t.name: t
    for t in [
        # Sales takes orders from other systems; the saga in sales commands the departments.
        *_dept_topics("sales", {"integration"}),
        *_dept_topics("finance", {"sales"}),
        *_dept_topics("warehouse", {"sales", "procurement"}),
        *_dept_topics("logistics", {"sales"}),
        *_dept_topics("procurement", {"sales"}),
        TopicSpec(integrations.CARRIER_REQUESTS, owner="logistics", writers=frozenset({"logistics"}),
                  description="Booking, pickup and cancellation requests to carriers"),
        TopicSpec(integrations.CARRIER_EVENTS, owner="logistics", writers=frozenset({"carrier"}),
                  description="Carriers' confirmations and tracking updates"),
        TopicSpec(integrations.PAYMENT_REQUESTS, owner="finance", writers=frozenset({"finance"}),
                  description="Collection requests to the payment provider"),
        TopicSpec(integrations.PAYMENT_EVENTS, owner="finance", writers=frozenset({"payments"}),
                  description="Settlements and refunds reported by the payment provider"),
        TopicSpec(integrations.SUPPLIER_REQUESTS, owner="procurement", writers=frozenset({"procurement"}),
                  description="Purchase orders and cancellations sent to suppliers"),
        TopicSpec(integrations.SUPPLIER_EVENTS, owner="procurement", writers=frozenset({"supplier"}),
                  description="Suppliers' confirmations, rejections and deliveries"),
    ]
}

# Keep the imports referenced: each module registers its messages on import.
_MODULES = (sales, finance, warehouse, logistics, procurement, integrations)


def topic_for(message: type[Message] | Message) -> TopicSpec:
    return CATALOGUE[message.TOPIC]


def messages_on(topic: str) -> list[type[Message]]:
    return [m for m in message_types().values() if m.TOPIC == topic]


def dlq_topic(service: str) -> str:
    return f"{service}.dlq.v1"


def validate_catalogue() -> list[str]:
    """Problems in the catalogue (empty when consistent). Checked by a unit test."""
    problems = []
    for type_name, model in message_types().items():
        if model.TOPIC not in CATALOGUE:
            problems.append(f"{type_name}: topic {model.TOPIC!r} is not in the catalogue")
        if not type_name.split(".")[0] in {*DEPARTMENTS, "carrier", "payments", "supplier"}:
            problems.append(f"{type_name}: type must start with its department or integration")
    for spec in CATALOGUE.values():
        if spec.partitions < 3 and not spec.name.endswith(".dlq.v1"):
            problems.append(f"{spec.name}: order-scoped topics need >= 3 partitions")
    return problems
