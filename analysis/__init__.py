"""dpbench analysis: records -> validated tidy frame -> normalised scores -> rliable statistics
-> figures (PNG/PDF) + tables (CSV/Markdown/LaTeX) + a report page.

Pipeline (each step a small module of pure functions; only :mod:`analysis.report` touches files):

* :mod:`analysis.load`      read ``manifest.json`` + ``evals.csv`` into one tidy frame, validate completeness;
* :mod:`analysis.normalize` fixed reference table ``suites/reference_scores.toml`` -> normalised scores;
* :mod:`analysis.stats`     seeded rliable wrappers (IQM, median, mean, optimality gap, profiles, P(improvement),
  sample-efficiency curves, mode coverage);
* :mod:`analysis.auc`       curve-based score: per-run mean normalised score over the eval points (the headline);
* :mod:`analysis.reference` zero/random-action reference runs: split off, per-task rows and curve lines;
* :mod:`analysis.protocol`  the evaluation protocol and the per-algorithm definition table from the manifests;
* :mod:`analysis.modes`     per-state action modes from ``probes.jsonl`` (mode count, per-probe table with CIs);
* :mod:`analysis.figures`   pure ``data -> matplotlib.figure.Figure`` functions (Agg backend);
* :mod:`analysis.tables`    pure ``DataFrame -> CSV / Markdown / LaTeX`` text;
* :mod:`analysis.report`    :func:`analysis.report.regenerate`, the one function that reads and writes files;
* :mod:`analysis.cli`       ``dpbench figures RESULTS_DIR`` / ``python -m analysis RESULTS_DIR``.

The package imports only ``harness.records`` and ``harness.probe_records`` (standard-library record
readers) from the harness, and never torch, jax or a simulator.
"""

from analysis.spec import FigureSpec

__all__ = ["FigureSpec"]
