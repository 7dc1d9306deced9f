"""Kafka provisioning, as the `admin` principal: the catalogue's topics, one SCRAM user per
principal, and the ACLs `services/runtime/kafka_acl.py` derives from the catalogue.

Topics go through aiokafka (as the services do); SCRAM users and ACLs through confluent-kafka's
AdminClient, because aiokafka has no API for them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from confluent_kafka.admin import (AclBinding as KafkaAclBinding, AclBindingFilter, AclOperation, AclPermissionType,
                                   AdminClient, ResourcePatternType, ResourceType, ScramCredentialInfo,
                                   ScramMechanism, UserScramCredentialUpsertion)

from contracts.topics import CATALOGUE, OUTSIDE_READER
from services.provisioning.secrets import ensure_secret, write_private
from services.runtime.config import Settings
from services.runtime.kafka_acl import MONITOR, AclBinding, acl_bindings, kafka_principals
from services.runtime.kafka_security import client_kwargs, java_client_properties

ADMIN = "admin"
SCRAM_ITERATIONS = 8192

_RESOURCE = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.BROKER}
_PATTERN = {"literal": ResourcePatternType.LITERAL, "prefixed": ResourcePatternType.PREFIXED}
_OPERATION = {"Read": AclOperation.READ, "Write": AclOperation.WRITE, "Describe": AclOperation.DESCRIBE,
              "IdempotentWrite": AclOperation.IDEMPOTENT_WRITE}
_BACK = {**{v: k for k, v in _RESOURCE.items()}, **{v: k for k, v in _PATTERN.items()},
         **{v: k for k, v in _OPERATION.items()}}


@dataclass
class TopicReport:
    created: list[str]
    existing: list[str]
    problems: list[str]


@dataclass
class AclDiff:
    """The cluster's ACLs for this environment compared with what the catalogue says."""

    missing: list[AclBinding] = field(default_factory=list)    # in the catalogue, not on the cluster
    extra: list[AclBinding] = field(default_factory=list)      # on the cluster, not in the catalogue
    present: list[AclBinding] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        return not self.missing and not self.extra


# --- clients -------------------------------------------------------------------------------------

def _admin_settings(settings: Settings) -> Settings:
    return settings if settings.kafka_username else settings.as_principal(ADMIN)


def confluent_config(settings: Settings) -> dict[str, str]:
    """librdkafka configuration for the same endpoint and credentials as `client_kwargs`."""
    config = {"bootstrap.servers": settings.kafka_bootstrap,
              "security.protocol": settings.kafka_security_protocol.lower(),
              "socket.timeout.ms": "10000", "log_level": "4"}   # librdkafka: warnings and worse
    if settings.kafka_security_protocol.startswith("SASL_"):
        config.update({"sasl.mechanism": settings.kafka_sasl_mechanism,
                       "sasl.username": settings.kafka_principal(), "sasl.password": settings.kafka_secret()})
    if settings.kafka_security_protocol in ("SASL_SSL", "SSL"):
        if settings.kafka_ca():
            config["ssl.ca.location"] = str(settings.kafka_ca())
        config["ssl.endpoint.identification.algorithm"] = "https" if settings.kafka_check_hostname else "none"
    return config


def admin_client(settings: Settings) -> AdminClient:
    return AdminClient(confluent_config(_admin_settings(settings)))


def _wait(futures: dict, timeout: float = 30.0) -> None:
    for future in futures.values():
        future.result(timeout=timeout)


# --- topics --------------------------------------------------------------------------------------

async def ensure_topics(settings: Settings, prefix: str = "", replication: int = 1) -> TopicReport:
    admin = AIOKafkaAdminClient(client_id="orderflow-provisioning", **client_kwargs(_admin_settings(settings)))
    await admin.start()
    try:
        present = set(await admin.list_topics())
        wanted = {prefix + spec.name: spec for spec in CATALOGUE.values()}
        missing = [name for name in wanted if name not in present]
        if missing:
            await admin.create_topics([
                NewTopic(name, num_partitions=wanted[name].partitions, replication_factor=replication,
                         topic_configs=wanted[name].kafka_configs()) for name in missing])
        problems = []
        existing = sorted(set(wanted) - set(missing))
        if existing:
            for meta in await admin.describe_topics(existing):
                spec = wanted[meta["topic"]]
                if len(meta["partitions"]) < spec.partitions:
                    problems.append(f"{meta['topic']}: {len(meta['partitions'])} partitions, catalogue says "
                                    f"{spec.partitions}")
        return TopicReport(sorted(missing), existing, problems)
    finally:
        await admin.close()


async def delete_topics(settings: Settings, prefix: str) -> list[str]:
    """Delete the topics under a prefix (tests use a fresh prefix per run)."""
    if not prefix:
        raise ValueError("refusing to delete unprefixed (production-named) topics")
    admin = AIOKafkaAdminClient(client_id="orderflow-provisioning", **client_kwargs(_admin_settings(settings)))
    await admin.start()
    try:
        names = [n for n in await admin.list_topics() if n.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()


# --- users ---------------------------------------------------------------------------------------

def ensure_users(settings: Settings, principals: Iterable[str] | None = None) -> list[str]:
    """One SCRAM-SHA-512 user per principal. The password is generated once into
    <state>/kafka/users/<principal>.password (0600) and set on the cluster every time (idempotent);
    <state>/kafka/clients/<principal>.properties is written for Kafka's Java tools."""
    names = list(principals or kafka_principals())
    users_dir = settings.state() / "kafka" / "users"
    upserts = [UserScramCredentialUpsertion(name, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
                                            ensure_secret(users_dir / f"{name}.password").encode())
               for name in names]
    admin = admin_client(settings)       # keep a reference: the futures die with the client
    _wait(admin.alter_user_scram_credentials(upserts))
    for name in names:
        write_client_properties(settings, name)
    return names


def write_client_properties(settings: Settings, principal: str) -> None:
    as_principal = settings.as_principal(principal)
    write_private(settings.state() / "kafka" / "clients" / f"{principal}.properties",
                  f"# Generated by orderflow provisioning: Kafka's Java tools as {principal}.\n"
                  + java_client_properties(as_principal))


# --- ACLs ----------------------------------------------------------------------------------------

def _to_kafka(binding: AclBinding) -> KafkaAclBinding:
    return KafkaAclBinding(_RESOURCE[binding.resource_type], binding.resource_name, _PATTERN[binding.pattern_type],
                           f"User:{binding.principal}", binding.host, _OPERATION[binding.operation],
                           AclPermissionType.ALLOW)


def _from_kafka(acl: KafkaAclBinding) -> AclBinding | None:
    """Ours when it is an ALLOW for one of our principals in a shape we generate."""
    if not acl.principal.startswith("User:") or acl.permission_type != AclPermissionType.ALLOW:
        return None
    try:
        return AclBinding(acl.principal[5:], _BACK[acl.restype], acl.name, _BACK[acl.resource_pattern_type],
                          _BACK[acl.operation], acl.host)
    except KeyError:
        return None


def _in_environment(binding: AclBinding, topic_prefix: str, group_prefix: str) -> bool:
    """Whether a binding concerns this environment (a test run shares the cluster with others)."""
    if binding.resource_type == "cluster":
        return True
    prefix = topic_prefix if binding.resource_type == "topic" else group_prefix
    if binding.principal == MONITOR:
        return binding.resource_name == (prefix or "*")
    if prefix:
        return binding.resource_name.startswith(prefix)
    if binding.resource_type == "topic":
        return binding.resource_name in CATALOGUE
    return binding.resource_name in (*kafka_principals(), OUTSIDE_READER)


def current_acls(settings: Settings, topic_prefix: str = "", group_prefix: str = "") -> list[AclBinding]:
    everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY,
                                  AclPermissionType.ANY)
    admin = admin_client(settings)
    acls = admin.describe_acls(everything).result(timeout=30)
    ours = set(kafka_principals())
    found = (_from_kafka(acl) for acl in acls)
    return sorted(b for b in found if b and b.principal in ours and _in_environment(b, topic_prefix, group_prefix))


def acl_diff(settings: Settings, topic_prefix: str = "", group_prefix: str = "") -> AclDiff:
    wanted = set(acl_bindings(topic_prefix, group_prefix))
    have = set(current_acls(settings, topic_prefix, group_prefix))
    return AclDiff(missing=sorted(wanted - have), extra=sorted(have - wanted), present=sorted(wanted & have))


def ensure_acls(settings: Settings, topic_prefix: str = "", group_prefix: str = "", prune: bool = False) -> AclDiff:
    """Create the missing ACLs (and with `prune`, delete the extra ones). Returns the diff before."""
    diff = acl_diff(settings, topic_prefix, group_prefix)
    admin = admin_client(settings)
    if diff.missing:
        _wait(admin.create_acls([_to_kafka(b) for b in diff.missing]))
    if prune and diff.extra:
        _wait(admin.delete_acls([_filter_for(b) for b in diff.extra]))
    if diff.missing or (prune and diff.extra):
        _await_propagation(settings, topic_prefix, group_prefix, prune)
    return diff


def _await_propagation(settings: Settings, topic_prefix: str, group_prefix: str, prune: bool,
                       timeout: float = 15.0) -> None:
    """ACL changes reach the authorizer through the metadata log: wait until they are visible, so
    that a client started right after provisioning is not refused."""
    deadline = time.monotonic() + timeout
    while True:
        after = acl_diff(settings, topic_prefix, group_prefix)
        if not after.missing and not (prune and after.extra):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"ACLs not visible after {timeout:g}s: {len(after.missing)} missing")
        time.sleep(0.2)


def delete_environment_acls(settings: Settings, topic_prefix: str, group_prefix: str) -> int:
    """Remove a (test) environment's topic and group ACLs; the shared cluster-level ones stay."""
    if not topic_prefix or not group_prefix:
        raise ValueError("refusing to delete the ACLs of an unprefixed (production) environment")
    doomed = [b for b in current_acls(settings, topic_prefix, group_prefix) if b.resource_type != "cluster"]
    if doomed:
        admin = admin_client(settings)
        _wait(admin.delete_acls([_filter_for(b) for b in doomed]))
    return len(doomed)


def delete_environment_groups(settings: Settings, group_prefix: str) -> list[str]:
    """Remove a (test) environment's consumer groups once its consumers have stopped."""
    if not group_prefix:
        raise ValueError("refusing to delete the consumer groups of an unprefixed (production) environment")
    admin = admin_client(settings)
    listed = admin.list_consumer_groups().result(timeout=30)
    doomed = [g.group_id for g in listed.valid if g.group_id.startswith(group_prefix)]
    if doomed:
        for future in admin.delete_consumer_groups(doomed).values():
            try:
                future.result(timeout=30)
            except Exception:  # noqa: BLE001 - a group with a lingering member is left, not fatal
                pass
    return doomed


def _filter_for(binding: AclBinding) -> AclBindingFilter:
    exact = _to_kafka(binding)
    return AclBindingFilter(exact.restype, exact.name, exact.resource_pattern_type, exact.principal, exact.host,
                            exact.operation, exact.permission_type)


# --- all of it -----------------------------------------------------------------------------------

@dataclass
class KafkaProvisioning:
    topics: TopicReport
    users: list[str]
    acls: AclDiff


async def provision_kafka(settings: Settings, *, topic_prefix: str = "", group_prefix: str = "",
                          prune: bool = False) -> KafkaProvisioning:
    topics = await ensure_topics(settings, topic_prefix)
    users = await asyncio.to_thread(ensure_users, settings)
    acls = await asyncio.to_thread(ensure_acls, settings, topic_prefix, group_prefix, prune)
    return KafkaProvisioning(topics, users, acls)
