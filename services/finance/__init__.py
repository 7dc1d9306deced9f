"""Finance: credit review (rules.py), invoicing and payments."""

# Released independently: the image tag and /health/live of this service (services/runtime/version.py).
__version__ = "0.1.0"
