"""Sales: order intake, the order saga (saga/) and the order timeline."""

# Released independently: the image tag and /health/live of this service (services/runtime/version.py).
__version__ = "0.1.0"
