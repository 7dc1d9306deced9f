"""Warehouse: stock, reservations (rules.py: allocation, packing), pick & pack, dispatch."""

# Released independently: the image tag and /health/live of this service (services/runtime/version.py).
__version__ = "0.1.0"
