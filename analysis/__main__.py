"""``python -m analysis RESULTS_DIR [--out DIR] [--reps N] [--seed S] [--proposed NAME]``."""

import sys

from analysis.cli import run

sys.exit(run())
