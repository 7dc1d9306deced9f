"""`orderflow chaos`: mixed orders at a rate while services, the broker and PostgreSQL are killed
on a schedule, on a stack of its own (its own ORDERFLOW_HOME, ports, Kafka and PostgreSQL); then
quiescence and every invariant over the whole database. Modules: environment (the run's own world
and its faults), load (the orders), run (schedule, quiescence, verdict, summary)."""

from services.cli.chaos.run import PROFILES, ChaosRun, Plan, Result, summary

__all__ = ["PROFILES", "ChaosRun", "Plan", "Result", "summary"]
