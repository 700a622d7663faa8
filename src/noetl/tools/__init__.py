"""Tool kinds: one module per kind, plugged in through `registry`."""
