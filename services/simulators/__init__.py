"""Stand-ins for external parties (carriers, payment provider). They speak only through their
integration topics, exactly as a real adapter would, so replacing one with a real integration
changes no service. Not durable: a reply scheduled for later is lost if the simulator dies."""

# Released independently: the image tag and /health/live of the simulators' image (services/runtime/version.py).
__version__ = "0.1.0"
