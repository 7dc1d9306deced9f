"""`orderflow bench`: orders through all five services, measured from the outside.

    load.py      the load generator (open model at a fixed rate, or a backlog) and the completion
                 watcher on `sales.events.v1`
    probes.py    CPU and memory from /proc, Kafka end offsets, PostgreSQL transactions and WAL
    bound.py     the bound in the same run: Kafka's perf tools, pgbench, the same-stack baseline
    baseline.py  the same-stack baseline worker (raw aiokafka + pydantic + asyncpg), a child process
    runner.py    one run: warm up, sample, load, wait until quiet, sample, figures per order
    report.py    the human-readable table

Run it against the local stack with the simulators' delays at 0 (see docs/performance.md).
"""
