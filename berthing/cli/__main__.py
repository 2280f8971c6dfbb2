"""``python -m berthing.cli``: the ``berthing`` command, for child processes that must
run with the same interpreter. (``-m berthing.cli.main`` would import ``main`` twice,
once through this package, and Python warns about that on every start.)"""

import sys

from berthing.cli.main import main

__all__: list[str] = []

sys.exit(main())
