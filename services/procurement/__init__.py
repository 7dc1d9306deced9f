"""Procurement: purchase orders to suppliers (rules.py: supplier choice)."""

# Released independently: the image tag and /health/live of this service (services/runtime/version.py).
__version__ = "0.1.0"
