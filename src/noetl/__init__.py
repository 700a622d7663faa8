"""NoETL: event-sourced workflow orchestration."""

__version__ = "0.1.0"
