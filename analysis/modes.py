"""Per-state action modes: how many distinct actions a stochastic policy takes at a probe state.

Reached-goal coverage (:func:`analysis.stats.mode_coverage`) mixes two things: a policy that is
multimodal *at a state* and a unimodal but high-entropy policy whose noise breaks a symmetry at
random. This module measures the first directly, from the actions recorded at the task's probe
states (``probes.jsonl``, :mod:`harness.probe_records`).

Mode count of one sample set (:func:`count_modes`):

0. undo clipping atoms: an action clipped to the bound (policies sample beyond [-1, 1] and clip, so
   mass piles onto the box's edges and corners, atoms that would each look like a mode) is a censored
   observation; each clipped coordinate is replaced by a half-normal tail beyond the bound whose
   scale keeps the density continuous at the bound (:func:`unclip`). A clipped Gaussian
   then stays one mode, while a policy that only acts on corners (bang-bang) keeps one mode per corner;
1. fit Gaussian mixtures with K = 1..``max_k`` full-covariance components by EM (k-means++ starts
   from a seeded ``numpy.random.Generator``, several restarts, a covariance floor ``reg`` so that
   atoms, e.g. actions clipped to a corner of the box, cannot give an unbounded likelihood) and keep
   the K with the lowest BIC;
2. merge components not separated by a density valley: two components belong to one mode when the
   mixture density along the segment between their means never drops below ``valley`` times the
   smaller of the densities at the two means (a ridgeline test; a flat or skewed single mode fitted
   by several Gaussians is still one mode);
3. count merged groups holding at least ``min_weight`` of the mass.

Per run the count is taken at the final evaluation point; :func:`probe_mode_table` gives the mean
over seeds with a stratified-bootstrap CI (rliable, seeded as everywhere in :mod:`analysis.stats`).
Pure numpy/pandas: no torch, jax or simulator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from analysis.spec import FigureSpec
from analysis.stats import _rliable_interval
from harness.probe_records import read_probe_rows

__all__ = ["ModeCounter", "count_modes", "load_probes", "final_probes", "probe_mode_table",
           "multimodality_summary"]


@dataclass(frozen=True)
class ModeCounter:
    """Settings of the mode count (see module docstring); the defaults are what the report uses."""

    max_k: int = 6
    """Largest number of mixture components tried."""
    reg: float = 2.5e-3
    """Covariance floor added to every component (a standard deviation floor of 0.05 in action units)."""
    valley: float = 0.5
    """Two components are one mode unless the density between them dips below this share of the
    smaller endpoint density (two equal Gaussians then need more than ~3.4 standard deviations between
    their means to count as two modes)."""
    bound: float = 0.999
    """Coordinates at or beyond this magnitude are at the action bound (clipped)."""
    edge: float = 0.1
    """Width of the band inside the bound whose sample density the reconstructed tail continues."""
    tail_floor: float = 0.05
    """Smallest scale of a reconstructed tail (the scale of an isolated atom)."""
    tail_cap: float = 1.0
    """Largest scale of a reconstructed tail."""
    min_weight: float = 0.05
    """Smallest mass of a counted mode."""
    restarts: int = 3
    """EM restarts per K (best log-likelihood kept)."""
    iters: int = 200
    tol: float = 1e-6
    seed: int = 0
    """Seed of the k-means++ starts."""

    def __call__(self, actions: np.ndarray) -> int:
        return count_modes(actions, self)


def _logpdf(x: np.ndarray, means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    """``[N, K]`` Gaussian log-densities."""
    n, d = x.shape
    out = np.empty((n, len(means)))
    for j, (m, c) in enumerate(zip(means, covs)):
        chol = np.linalg.cholesky(c)
        z = np.linalg.solve(chol, (x - m).T)
        out[:, j] = -0.5 * (z * z).sum(0) - np.log(np.diag(chol)).sum() - 0.5 * d * math.log(2 * math.pi)
    return out


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def _fit_gmm(x: np.ndarray, k: int, rng: np.random.Generator, c: ModeCounter):
    """One EM fit from a k-means++ start: ``(loglik, weights, means, covs)``."""
    n, d = x.shape
    idx = [int(rng.integers(n))]
    for _ in range(1, k):
        d2 = ((x[:, None, :] - x[idx][None, :, :]) ** 2).sum(-1).min(1)
        p = d2 / d2.sum() if d2.sum() > 0 else np.full(n, 1.0 / n)
        idx.append(int(rng.choice(n, p=p)))
    means = x[idx].copy()
    resp = np.zeros((n, k))
    resp[np.arange(n), ((x[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)] = 1.0
    eye = np.eye(d)
    prev = -np.inf
    ll = -np.inf
    for _ in range(c.iters):
        nk = resp.sum(0) + 1e-10
        weights = nk / n
        means = (resp.T @ x) / nk[:, None]
        covs = np.stack([((resp[:, j, None] * (x - means[j])).T @ (x - means[j])) / nk[j] + c.reg * eye
                         for j in range(k)])
        logp = _logpdf(x, means, covs) + np.log(weights)[None]
        norm = _logsumexp(logp, 1)
        ll = float(norm.sum())
        resp = np.exp(logp - norm[:, None])
        if ll - prev < c.tol * abs(ll):
            break
        prev = ll
    return ll, weights, means, covs


def _mixture_density(points: np.ndarray, weights: np.ndarray, means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    return np.exp(_logsumexp(_logpdf(points, means, covs) + np.log(weights)[None], 1))


def unclip(x: np.ndarray, counter: ModeCounter, rng: np.random.Generator) -> np.ndarray:
    """Replace coordinates clipped to the bound by a reconstructed tail beyond it (see module docstring).

    Per coordinate and side, the ``n_c`` clipped values (share ``p_c``) become ``±(1 + tau |z|)``,
    ``z ~ N(0, 1)``, with ``tau`` chosen so that the density is continuous at the bound: a half-normal
    tail of mass ``p_c`` has density ``p_c sqrt(2 / pi) / tau`` there, matched to the density of the
    unclipped samples within ``edge`` of the bound. With (almost) no unclipped samples there, the atom
    is isolated (e.g. a bang-bang policy) and keeps the small scale ``tail_floor``.
    """
    x = x.copy()
    n = len(x)
    for i in range(x.shape[1]):
        col = x[:, i]
        for sign in (1.0, -1.0):
            at = sign * col >= counter.bound
            if not at.any():
                continue
            near = int(((sign * col < counter.bound) & (sign * col >= counter.bound - counter.edge)).sum())
            if near < 3:
                tau = counter.tail_floor
            else:
                density = near / (n * counter.edge)
                tau = float(np.clip(at.mean() * math.sqrt(2 / math.pi) / density, counter.tail_floor, counter.tail_cap))
            col[at] = sign * (1.0 + tau * np.abs(rng.standard_normal(int(at.sum()))))
    return x


def count_modes(actions: np.ndarray, counter: ModeCounter = ModeCounter()) -> int:
    """Number of action modes of a ``[M, A]`` sample (see module docstring); 0 for an empty sample."""
    x = np.asarray(actions, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"actions must be [M, A], got shape {x.shape}")
    if len(x) == 0:
        return 0
    rng = np.random.default_rng(counter.seed)
    x = unclip(x, counter, rng)
    n, d = x.shape
    best: tuple[float, Any, Any, Any] | None = None
    for k in range(1, min(counter.max_k, n) + 1):
        fits = [_fit_gmm(x, k, rng, counter) for _ in range(counter.restarts if k > 1 else 1)]
        ll, w, m, cv = max(fits, key=lambda f: f[0])
        params = (k - 1) + k * d + k * d * (d + 1) // 2
        bic = -2.0 * ll + params * math.log(n)
        if best is None or bic < best[0]:
            best = (bic, w, m, cv)
    assert best is not None  # k = 1 always fits
    _, w, m, cv = best
    k = len(w)
    parent = list(range(k))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    t = np.linspace(0.0, 1.0, 41)[:, None]
    at_means = _mixture_density(m, w, m, cv)
    for i in range(k):
        for j in range(i + 1, k):
            seg = m[i][None] * (1 - t) + m[j][None] * t
            if _mixture_density(seg, w, m, cv).min() >= counter.valley * min(at_means[i], at_means[j]):
                parent[find(i)] = find(j)
    mass: dict[int, float] = {}
    for i in range(k):
        mass[find(i)] = mass.get(find(i), 0.0) + float(w[i])
    return sum(1 for v in mass.values() if v >= counter.min_weight)


def load_probes(runs: pd.DataFrame) -> pd.DataFrame:
    """Every probe sample set of the given runs (a frame like :attr:`analysis.load.Records.runs`).

    One row per (algo, task, seed, eval point, probe): ``algo, task, seed, eval_index, env_steps,
    probe, obs, actions`` (``actions`` a ``[M, A]`` array). Runs without ``probes.jsonl`` add nothing.
    """
    rows = []
    for _, r in runs.iterrows():
        for pr in read_probe_rows(Path(r["path"])):
            for p in pr.probes:
                rows.append({"algo": r["algo"], "task": r["task"], "seed": int(r["seed"]),
                             "eval_index": pr.eval_index, "env_steps": pr.env_steps, "probe": p.name,
                             "obs": p.obs, "actions": np.asarray(p.actions, dtype=float)})
    cols = ["algo", "task", "seed", "eval_index", "env_steps", "probe", "obs", "actions"]
    return pd.DataFrame(rows, columns=cols)


def final_probes(probes: pd.DataFrame, final_steps: Mapping[str, int]) -> pd.DataFrame:
    """The probe rows at each task's final evaluation point ``final_steps[task]``."""
    if probes.empty:
        return probes
    keep = [final_steps.get(t) == s for t, s in zip(probes["task"], probes["env_steps"])]
    return probes[keep].reset_index(drop=True)


def _saturation(actions: np.ndarray, bound: float) -> float:
    """Share of samples with some coordinate at the action bound (``|a_i| >= bound``)."""
    return float((np.abs(actions) >= bound).any(axis=1).mean()) if len(actions) else 0.0


def probe_mode_table(final: pd.DataFrame, spec: FigureSpec, counter: ModeCounter = ModeCounter()) -> pd.DataFrame:
    """Action modes per (algo, task, probe) at the final evaluation point, mean over seeds with CI.

    Columns: ``algo, task, probe, obs, n_seeds, samples, modes, modes_lower, modes_upper,
    modes_by_seed`` (the per-seed counts, in seed order, as a string), ``saturated`` (mean share of
    samples at the action bound, where clipping atoms can make counts reflect the bound, not intent).
    """
    cols = ["algo", "task", "probe", "obs", "n_seeds", "samples", "modes", "modes_lower", "modes_upper",
            "modes_by_seed", "saturated"]
    rows: list[dict[str, Any]] = []
    if final.empty:
        return pd.DataFrame(rows, columns=cols)
    for (task, probe, algo), g in final.groupby(["task", "probe", "algo"], sort=True):
        g = g.sort_values("seed")
        counts = np.array([[count_modes(a, counter)] for a in g["actions"]], dtype=float)  # (runs, 1)
        point, ci = _rliable_interval(counts, lambda x: x.mean(axis=0), spec)
        rows.append({"algo": algo, "task": task, "probe": probe, "obs": tuple(g["obs"].iloc[0]),
                     "n_seeds": len(g), "samples": int(len(g["actions"].iloc[0])), "modes": float(point[0]),
                     "modes_lower": float(ci[0, 0]), "modes_upper": float(ci[1, 0]),
                     "modes_by_seed": " ".join(str(int(c)) for c in counts[:, 0]),
                     "saturated": float(np.mean([_saturation(a, counter.bound) for a in g["actions"]]))})
    out = pd.DataFrame(rows, columns=cols)
    order = {name: i for i, name in enumerate(dict.fromkeys(final["probe"]))}
    return out.sort_values(["task", "probe", "algo"], key=lambda s: s.map(order) if s.name == "probe" else s,
                           kind="stable").reset_index(drop=True)


def multimodality_summary(modes: pd.DataFrame, coverage: pd.DataFrame, probe: str = "start") -> pd.DataFrame:
    """One row per (task, algo): action modes at ``probe`` next to the reached-goal entropy and distinct
    goals of :func:`analysis.stats.mode_coverage` (all with their CIs)."""
    cols = ["task", "algo", "modes", "modes_lower", "modes_upper", "entropy", "entropy_lower", "entropy_upper",
            "max_entropy", "distinct_goals", "distinct_goals_lower", "distinct_goals_upper", "reach_rate"]
    if modes.empty or coverage.empty:
        return pd.DataFrame([], columns=cols)
    m = modes[modes["probe"] == probe][["task", "algo", "modes", "modes_lower", "modes_upper"]]
    out = m.merge(coverage, on=["task", "algo"], how="inner")
    return out[cols].sort_values(["task", "algo"]).reset_index(drop=True)

