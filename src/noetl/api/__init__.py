"""The public Python API behind `import noetl` (see `noetl/__init__.py` and docs/python.md):
playbooks (`playbooks`), embedded runs (`embedded`), a server's client (`remote`), how an
execution ended (`outcome`) and calling it all from synchronous code (`sync`)."""
