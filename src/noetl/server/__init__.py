"""The NoETL server: a FastAPI app over the control plane (thin routes, one error mapping)."""

from noetl.server.app import create_app

__all__ = ["create_app"]
