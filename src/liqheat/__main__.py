"""``python -m liqheat``: the same command line as the ``liqheat`` script."""

from liqheat.cli.app import main

main()
