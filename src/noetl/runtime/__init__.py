"""Wiring of engine, store and bus into a running NoETL, and the local servers it can start."""
