"""The server's REST API as adapters of the ports: the workers' command source, credentials,
results and child executions, and the CLI's read-only event log. `transport.ServerClient` is
the one HTTP client they share (the calls only people's tools make are in `operator.py`)."""
