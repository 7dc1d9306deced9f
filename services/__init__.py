"""The five department services, the external-party simulators, and the operator CLI."""
