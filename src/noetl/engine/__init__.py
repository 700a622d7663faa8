"""The pure core: given a playbook and the events so far, decide what happens next.

Nothing in this package does I/O, uses asyncio, reads a clock or the environment.
"""
