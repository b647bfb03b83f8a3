"""``python -m eda_lib``: see :mod:`eda_lib.cli`."""

from .cli import main

raise SystemExit(main())
