"""`python -m noetl`: the same CLI as the `noetl` command."""

from noetl.cli.app import main

main()
