"""Kafka ACLs derived from the topic catalogue: the one place that turns "who writes and reads what"
(`contracts/topics.py`) into broker permissions.

`acl_bindings()` is used by local provisioning (`orderflow provision`, `orderflow acl list|diff`) and by
the Strimzi `KafkaUser` generator (deploy/k8s), so the broker, the manifests and the catalogue cannot
drift apart. Principals:

- each department service and each external party: WRITE (+ IdempotentWrite on the cluster) on the
  topics it may write, READ on the topics it consumes, its own consumer group;
- `outside-reader` (subscribing systems): READ on every event topic, consumer groups named
  `outside-reader*`, nothing else;
- `monitor` (lag exporter, `orderflow lag`): DESCRIBE on the environment's topics and groups;
- `admin` (provisioning only) and `broker` (inter-broker) are super users set in the broker config,
  so they need no ACLs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from contracts.topics import CATALOGUE, OUTSIDE_READER, principals

MONITOR = "monitor"
ADMIN = "admin"
SUPER_USERS = ("admin", "broker")      # configured as super.users on the broker, never given ACLs

ResourceType = Literal["topic", "group", "cluster"]
PatternType = Literal["literal", "prefixed"]
# Strimzi's spelling (KafkaUser.spec.authorization.acls[].operations).
Operation = Literal["Read", "Write", "Describe", "IdempotentWrite"]


@dataclass(frozen=True, order=True)
class AclBinding:
    principal: str                 # the user name, without "User:"
    resource_type: ResourceType
    resource_name: str
    pattern_type: PatternType
    operation: Operation
    host: str = "*"
    permission: Literal["Allow"] = "Allow"

    def describe(self) -> str:
        name = f"{self.resource_name}*" if self.pattern_type == "prefixed" else self.resource_name
        return f"User:{self.principal} {self.permission} {self.operation} on {self.resource_type}:{name}"


def kafka_principals() -> list[str]:
    """Every principal that gets ACLs (super users excluded)."""
    return [*principals(), MONITOR]


def acl_bindings(topic_prefix: str = "", group_prefix: str = "") -> list[AclBinding]:
    """Every ACL the environment needs. `topic_prefix`/`group_prefix` are the environment's
    ORDERFLOW_TOPIC_PREFIX / ORDERFLOW_GROUP_PREFIX (e.g. a test run's own namespace)."""
    bindings: set[AclBinding] = set()
    for spec in CATALOGUE.values():
        topic = topic_prefix + spec.name
        for writer in spec.writers:
            bindings.add(AclBinding(writer, "topic", topic, "literal", "Write"))
            bindings.add(AclBinding(writer, "topic", topic, "literal", "Describe"))
            bindings.add(AclBinding(writer, "cluster", "kafka-cluster", "literal", "IdempotentWrite"))
        for reader in spec.readers:
            bindings.add(AclBinding(reader, "topic", topic, "literal", "Read"))
            bindings.add(AclBinding(reader, "topic", topic, "literal", "Describe"))
            if reader == OUTSIDE_READER:
                # Subscribing systems name their own groups, all under this prefix.
                bindings.add(AclBinding(reader, "group", group_prefix + OUTSIDE_READER, "prefixed", "Read"))
            else:
                bindings.add(AclBinding(reader, "group", group_prefix + reader, "literal", "Read"))
    # Lag monitoring: offsets and end offsets of everything in this environment, no data.
    for resource_type in ("topic", "group"):
        prefix = topic_prefix if resource_type == "topic" else group_prefix
        if prefix:
            bindings.add(AclBinding(MONITOR, resource_type, prefix, "prefixed", "Describe"))
        else:
            bindings.add(AclBinding(MONITOR, resource_type, "*", "literal", "Describe"))
    return sorted(bindings)


def bindings_by_principal(topic_prefix: str = "", group_prefix: str = "") -> dict[str, list[AclBinding]]:
    grouped: dict[str, list[AclBinding]] = {p: [] for p in kafka_principals()}
    for binding in acl_bindings(topic_prefix, group_prefix):
        grouped.setdefault(binding.principal, []).append(binding)
    return grouped
