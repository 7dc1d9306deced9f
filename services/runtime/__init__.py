"""Plumbing every department service runs on, so that department packages hold only their
business: settings, database + migrations, the transactional outbox and its relay, the
idempotent consumer (inbox + dead letters), and the HTTP surface (health, metrics, AsyncAPI).

Message path: Kafka records -> `consumer.Consumer.process_batch` (records no handler wants are
skipped on their `type` header; the rest in ONE DB transaction on a held connection: validate,
dedupe with one multi-row `inbox` insert, department handler(tx, message) per record, state
change + `tx.emit(...)`, one multi-row `outbox` insert; a savepoint per record only when a handler
failed and the batch is applied again) -> commit -> `offsets.OffsetCommitter` commits the batch's
partitions -> `outbox.Relay` publishes the stored bytes (idempotent producer, acks=all) and
deletes the rows; `retention.prune_inbox` keeps the inbox bounded.
"""
