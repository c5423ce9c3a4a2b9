"""``python -m newsflow.cli`` — the same as the ``newsflow`` console script."""

from newsflow.cli.main import main

main()
