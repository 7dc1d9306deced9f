"""orderflow contracts: the only code the five services share with each other and with outside systems.

- `envelope`  the wire format every message travels in (ids, type, version, tracing)
- `topics`    the topic catalogue: name, partitions, owner, allowed writers, message types
- `sales`, `finance`, `warehouse`, `logistics`, `procurement`, `integrations`, `customer`: the messages
- `risk`      typed risks: the shapes departments raise and the `risk.events.v1` feed

Compatibility rule: a published v1 message only gains *optional* fields. Anything else is a new
topic version. `tests/unit/test_contract_compat.py` enforces it against the snapshots in
`contracts/schemas/`.
"""

from contracts.envelope import Envelope, Message, message_types
from contracts import sales, finance, warehouse, logistics, procurement, integrations, customer, risk  # noqa: F401  (registers)
from contracts.topics import CATALOGUE, TopicSpec, topic_for

__all__ = ["CATALOGUE", "Envelope", "Message", "TopicSpec", "message_types", "topic_for"]
