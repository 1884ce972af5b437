"""``python -m dpbench ...`` is ``dpbench ...``."""

import os
import sys

from .cli import main

os.environ.setdefault("PYTHONHASHSEED", "0")
sys.exit(main())
