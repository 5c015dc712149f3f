"""``python -m purecallerid``: the command line (see :mod:`purecallerid.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
