"""``python -m cleantake.cli ...``: the same as ``python -m cleantake`` and the console script."""

import sys

from . import main

sys.exit(main())
