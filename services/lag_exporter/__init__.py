"""The lag exporter: one small process watching every orderflow consumer group as `monitor`."""

__version__ = "0.1.0"
