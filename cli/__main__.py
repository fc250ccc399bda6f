"""``python -m cli``: the same as the ``outreach`` command."""

from cli.main import main

main()
