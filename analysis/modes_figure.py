"""Figure of sampled actions at the probe states, per algorithm, next to the mode counts.

The picture every diffusion-policy paper draws (actions sampled at the start state of the
multi-goal task), with the numbers it is usually shown without: each panel's title gives the mean
mode count over seeds with its CI (:func:`analysis.modes.probe_mode_table`, also written as a table).
A pure function of frames, like :mod:`analysis.figures`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.figures import DOUBLE_COLUMN_IN, _algo_order, _figure, _style

__all__ = ["probe_actions_figure"]

_SEED_COLORS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
                "#999999", "#882255")


def probe_actions_figure(final: pd.DataFrame, modes: pd.DataFrame, task: str, proposed: str | None = None,
                         probes: tuple[str, ...] | None = None, max_seeds: int = 10,
                         confidence: float = 0.95) -> Figure:
    """Scatter of the final evaluation's sampled actions: one column per algorithm, one row per probe.

    ``final``: :func:`analysis.modes.final_probes` rows; ``modes``: :func:`analysis.modes.probe_mode_table`.
    Points are coloured by seed (the first ``max_seeds`` seeds), so a policy that is unimodal per seed
    but points elsewhere on each seed is told apart from one that is multimodal within a seed.
    """
    f = final[final["task"] == task]
    m = modes[modes["task"] == task].set_index(["probe", "algo"])
    algos = _algo_order(list(f["algo"].unique()), proposed)
    names = list(probes) if probes is not None else list(dict.fromkeys(f["probe"]))
    with _style():
        fig = _figure(DOUBLE_COLUMN_IN, 0.35 + 1.45 * len(names))
        axes = np.atleast_2d(fig.subplots(len(names), len(algos), sharex=True, sharey=True, squeeze=False))
        for r, probe in enumerate(names):
            for c, algo in enumerate(algos):
                ax = axes[r, c]
                g = f[(f["probe"] == probe) & (f["algo"] == algo)].sort_values("seed")
                for i, (_, row) in enumerate(g.head(max_seeds).iterrows()):
                    a = row["actions"]
                    ax.scatter(a[:, 0], a[:, 1], s=1.5, alpha=0.35, color=_SEED_COLORS[i % len(_SEED_COLORS)],
                               linewidths=0, rasterized=True)
                ax.set_xlim(-1.1, 1.1)
                ax.set_ylim(-1.1, 1.1)
                ax.set_aspect("equal")
                ax.axhline(0, color="grey", lw=0.4)
                ax.axvline(0, color="grey", lw=0.4)
                title = algo if r == 0 else ""
                if (probe, algo) in m.index:
                    s = m.loc[(probe, algo)]
                    title += ("\n" if title else "") + f"modes {s['modes']:.1f} [{s['modes_lower']:.1f}, {s['modes_upper']:.1f}]"
                ax.set_title(title, fontsize=7)
                if c == 0:
                    obs = g["obs"].iloc[0] if len(g) else ()
                    ax.set_ylabel(f"{probe}\nobs {tuple(round(float(v), 2) for v in obs)}\na[1]", fontsize=7)
                if r == len(names) - 1:
                    ax.set_xlabel("a[0]")
        fig.suptitle(f"{task}: actions sampled from the stochastic policy at the probe states (final eval)\n"
                     f"colour = seed; titles: mean action modes over seeds [{confidence:.0%} CI]", fontsize=7)
    return fig
