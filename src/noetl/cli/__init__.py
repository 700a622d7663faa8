"""The `noetl` command line (Typer). No business logic lives here."""
