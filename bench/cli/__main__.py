"""`python -m bench.cli`: the same as the `vcbench` command."""

from bench.cli.main import main

main()
