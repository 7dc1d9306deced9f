"""Kafka client security from settings: the one place that turns ORDERFLOW_KAFKA_* into what
aiokafka, FastStream and Kafka's own Java tools need, so that every service, simulator, the CLI
and the tests connect to any secured cluster (local SASL_SSL broker, Strimzi, MSK, Confluent Cloud)
the same way."""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from services.runtime.config import Settings

_FASTSTREAM_SASL = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}
_JAAS_MODULE = {"PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule"}
_SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"


def uses_tls(settings: Settings) -> bool:
    return settings.kafka_security_protocol in ("SASL_SSL", "SSL")


def uses_sasl(settings: Settings) -> bool:
    return settings.kafka_security_protocol.startswith("SASL_")


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """TLS context trusting the configured CA (the local CA by default, else the system's)."""
    if not uses_tls(settings):
        return None
    ca = settings.kafka_ca()
    context = create_ssl_context(cafile=str(ca) if ca else None)
    context.check_hostname = settings.kafka_check_hostname
    return context


def client_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for aiokafka's producer, consumer and admin clients."""
    kwargs: dict[str, Any] = {"bootstrap_servers": settings.kafka_bootstrap,
                              "security_protocol": settings.kafka_security_protocol}
    context = ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    if uses_sasl(settings):
        kwargs.update(sasl_mechanism=settings.kafka_sasl_mechanism,
                      sasl_plain_username=settings.kafka_principal(),
                      sasl_plain_password=settings.kafka_secret())
    return kwargs


def faststream_security(settings: Settings) -> BaseSecurity | None:
    """The same, as FastStream's security object (it also documents the scheme in AsyncAPI)."""
    context = ssl_context(settings)
    if uses_sasl(settings):
        sasl = _FASTSTREAM_SASL[settings.kafka_sasl_mechanism]
        return sasl(settings.kafka_principal(), settings.kafka_secret(), ssl_context=context,
                    use_ssl=context is not None)
    if context is not None:
        return BaseSecurity(ssl_context=context, use_ssl=True)
    return None


def java_client_properties(settings: Settings) -> str:
    """A client properties file for Kafka's Java tools (`--command-config`, `--consumer.config`).
    Holds the password: write it with mode 0600 into the git-ignored state directory only."""
    lines = [f"bootstrap.servers={settings.kafka_bootstrap}",
             f"security.protocol={settings.kafka_security_protocol}"]
    if uses_sasl(settings):
        module = _JAAS_MODULE.get(settings.kafka_sasl_mechanism, _SCRAM_MODULE)
        login = f'{module} required username="{settings.kafka_principal()}" password="{settings.kafka_secret()}";'
        lines += [f"sasl.mechanism={settings.kafka_sasl_mechanism}", f"sasl.jaas.config={login}"]
    if uses_tls(settings) and settings.kafka_ca():
        lines += ["ssl.truststore.type=PEM", f"ssl.truststore.location={settings.kafka_ca()}"]
    if uses_tls(settings) and not settings.kafka_check_hostname:
        lines.append("ssl.endpoint.identification.algorithm=")
    return "\n".join(lines) + "\n"
