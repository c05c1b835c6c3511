"""``python -m agents.cli``: the ``aann`` command."""

from agents.cli import main

raise SystemExit(main())
