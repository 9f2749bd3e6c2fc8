"""``python -m liqheat``: the same command line as the ``liqheat`` script."""

from liqheat.cli.main import main

main()
