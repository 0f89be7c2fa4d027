"""``python -m cleantake ...``: the same as the ``cleantake`` console script."""

import sys

from .cli import main

sys.exit(main())
