"""Command line: ``dpbench figures RESULTS_DIR [--with DIR ...] [--out DIR] [--reps N] [--seed S] [--proposed NAME]``.

The harness CLI calls :func:`add_arguments` on its ``figures`` sub-parser and :func:`main` with the
parsed namespace; ``python -m analysis RESULTS_DIR ...`` does the same standalone.

On success it prints the headline (AUC and final-point aggregates with CIs, and the zero/random-action
reference rows) and where the report is.

Exit status: 0 on success; 2 on bad input (no records, only reference runs, a malformed record or
``eval_protocol``, an algorithm with both reference and non-reference runs, a task missing from the
reference table, an incomplete grid without ``--allow-incomplete``), with the diagnostic on stderr.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

__all__ = ["add_arguments", "main", "build_parser", "run"]

EXIT_BAD_INPUT = 2


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``figures`` arguments to ``parser`` (returns it)."""
    parser.add_argument("results_dir", metavar="RESULTS_DIR", help="directory holding <suite>/<task>/<algo>/seed_<k>/ records")
    parser.add_argument("--with", dest="with_dirs", action="append", default=[], metavar="DIR",
                        help="also load the records below DIR (repeatable), e.g. a baseline stored in another "
                             "result set; an (algo, task, seed) in two directories is an error")
    parser.add_argument("--out", default=None, metavar="DIR", help="write DIR/report/ (default: RESULTS_DIR/report/)")
    parser.add_argument("--reps", type=int, default=2000, metavar="N",
                        help="bootstrap repetitions (default 2000; 50000 for paper figures)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="bootstrap seed (default 0)")
    parser.add_argument("--proposed", default="cppo", metavar="NAME",
                        help="algorithm label whose probability of improvement is shown (default cppo)")
    parser.add_argument("--allow-incomplete", action="store_true",
                        help="render even with holes in the grid (listed prominently in the report)")
    parser.add_argument("--reference-table", default=None, metavar="TOML",
                        help="normalisation table (default: suites/reference_scores.toml)")
    return parser


def build_parser() -> argparse.ArgumentParser:
    """Standalone parser for ``python -m analysis``."""
    p = argparse.ArgumentParser(prog="python -m analysis", description="Regenerate the dpbench figures, tables and report.")
    return add_arguments(p)


def main(args: argparse.Namespace) -> int:
    """Run :func:`analysis.report.regenerate` for parsed ``args``; return the exit status."""
    from harness.records import RecordError

    from analysis.load import IncompleteGridError, NoRecordsError
    from analysis.normalize import MissingReferenceError
    from analysis.protocol import EvalProtocolError
    from analysis.reference import ReferenceMixError
    from analysis.report import regenerate

    try:
        report = regenerate(args.results_dir, args.out, reps=args.reps, seed=args.seed, proposed=args.proposed,
                            allow_incomplete=args.allow_incomplete, reference_table=args.reference_table,
                            with_dirs=args.with_dirs)
    except IncompleteGridError as e:
        print(f"dpbench figures: {e}\n(re-run with --allow-incomplete to render anyway)", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (NoRecordsError, MissingReferenceError, RecordError, FileNotFoundError, ReferenceMixError,
            EvalProtocolError) as e:
        print(f"dpbench figures: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not report.completeness.complete:
        print(f"dpbench figures: WARNING incomplete grid ({len(report.completeness.holes)} missing cells), "
              "rendered with --allow-incomplete; see the report", file=sys.stderr)
    print(report.summary)
    print(f"wrote {report.index_md} ({len(report.figures)} figure files, {len(report.tables)} table files)")
    return 0


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and call :func:`main`."""
    return main(build_parser().parse_args(argv))
