"""Command bus: the port (`CommandBus`) and its adapters (in-process; NATS JetStream later)."""

from noetl.bus.port import CommandBus, Delivery, Pointer

__all__ = ["CommandBus", "Delivery", "Pointer"]
