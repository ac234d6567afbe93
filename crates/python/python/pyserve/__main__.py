"""``python -m pyserve MODULE:APP``: the ``pyserve`` command."""

import sys

from .cli import main

sys.exit(main())
