"""Plumbing every department service runs on, so that department packages hold only their
business: settings, database + migrations, the transactional outbox and its relay, the
idempotent consumer (inbox + dead letters), and the HTTP surface (health, metrics, AsyncAPI).

Message path: Kafka records -> `consumer.Consumer.process_batch` (one DB transaction per batch;
per record a savepoint: validate, dedupe in `inbox`, department handler(tx, message), state
change + `tx.emit(...)` into `outbox`) -> commit -> offsets committed -> `outbox.Relay`
publishes the rows (idempotent producer, acks=all) and marks them sent.
"""
