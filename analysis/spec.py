"""Frozen specifications that fix every random or presentational choice of the analysis."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FigureSpec", "DEFAULT_REPS_PAPER"]

DEFAULT_REPS_PAPER = 50_000
"""rliable's own default; what paper figures use. Tests use a few hundred."""


@dataclass(frozen=True)
class FigureSpec:
    """Everything that determines the statistics and figures besides the records.

    Attributes:
        reps: bootstrap repetitions for every interval estimate.
        seed: global numpy seed set (``np.random.seed``) right before each rliable call; rliable ignores
            its ``random_state`` argument, so this is the only way to make its bootstrap reproducible.
        confidence: size of the confidence intervals (0.95 -> 95 % percentile intervals).
        proposed: algorithm label whose probability of improvement over each other algorithm is shown.
        tau_points: number of thresholds of the performance profile on [0, tau_max].
        tau_max: largest normalised-score threshold of the performance profile.
        allow_incomplete: render even when the grid has holes (holes are listed in the report).
    """

    reps: int = 2000
    seed: int = 0
    confidence: float = 0.95
    proposed: str = "cppo"
    tau_points: int = 41
    tau_max: float = 1.2
    allow_incomplete: bool = False
    metric_names: tuple[str, ...] = field(default=("Median", "IQM", "Mean", "Optimality Gap"), init=False)

    def __post_init__(self) -> None:
        if self.reps < 1:
            raise ValueError(f"reps must be >= 1, got {self.reps}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")
        if self.tau_points < 2 or self.tau_max <= 0:
            raise ValueError("tau_points must be >= 2 and tau_max > 0")
