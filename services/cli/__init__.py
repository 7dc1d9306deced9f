"""`orderflow`: the operator CLI (stack, orders, topics, consumer lag, dead letters)."""

# Released independently: the image tag and /health/live of the CLI/provisioning image (services/runtime/version.py).
__version__ = "0.1.0"
