"""``python -m kerasdl`` runs the command-line interface."""

from kerasdl.cli import main

main()
