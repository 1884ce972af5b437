"""The evaluation protocol, and per algorithm what its evaluation modes mean, from the run manifests.

Each run's manifest may carry ``eval_protocol`` = ``{"deterministic": str, "stochastic": str,
"extra_modes": {name: description}}`` written by the algorithm. Records written before the protocol
have no such key; their algorithms are listed as :data:`NOT_RECORDED`.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import pandas as pd

__all__ = ["PROTOCOL", "NOT_RECORDED", "EvalProtocolError", "eval_definitions"]

PROTOCOL = (
    "One evaluation protocol for every algorithm: `deterministic` = every source of sampling noise at its "
    "zero/mode value (initial noise x_T or x0 = 0 and no per-step noise for diffusion/flow policies; the mean "
    "for Gaussians); `stochastic` = the behaviour policy exactly as it acts in training; algorithm-specific "
    "evaluations are named extra modes. Scores use the `deterministic` column."
)
"""The protocol, stated once in the report (DESIGN.md, "Evaluation protocol")."""

NOT_RECORDED = "not recorded (records predate the protocol)"
"""Cell text for an algorithm whose manifests have no ``eval_protocol``."""

COLUMNS = ("algo", "deterministic", "stochastic", "extra modes")


class EvalProtocolError(ValueError):
    """A manifest's ``eval_protocol`` is not a mapping of the documented shape."""


def _check(p: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(p, Mapping):
        raise EvalProtocolError(f"{where}: eval_protocol must be an object, got {type(p).__name__}")
    for key in ("deterministic", "stochastic"):
        if not isinstance(p.get(key), str):
            raise EvalProtocolError(f"{where}: eval_protocol[{key!r}] must be a string, got {p.get(key)!r}")
    extra = p.get("extra_modes", {})
    if not isinstance(extra, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
        raise EvalProtocolError(f"{where}: eval_protocol['extra_modes'] must map mode names to descriptions, got {extra!r}")
    return p


def _extra_text(p: Mapping[str, Any]) -> str:
    extra = p.get("extra_modes") or {}
    return "; ".join(f"`{k}`: {extra[k]}" for k in sorted(extra)) or "none"


def eval_definitions(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per algorithm: what ``deterministic``, ``stochastic`` and each extra mode mean for it.

    ``runs``: the run frame of :func:`analysis.load.load_records` (columns ``algo``, ``eval_protocol``,
    ``path``). An algorithm none of whose runs records the protocol gets :data:`NOT_RECORDED`. When its
    runs disagree (for instance old and new records mixed), each distinct definition gets its own row
    with the number of runs that carry it, so nothing is hidden. Raises :class:`EvalProtocolError`
    (naming the run) for a malformed ``eval_protocol``.
    Columns: ``algo, deterministic, stochastic, extra modes`` (+ ``runs`` when some algorithm's runs disagree).
    """
    rows = []
    for algo, g in runs.groupby("algo", sort=True):
        variants: dict[str, list[Any]] = {}
        for p, path in zip(g["eval_protocol"], g["path"]):
            key = "" if p is None else json.dumps(_check(p, str(path)), sort_keys=True)
            variants.setdefault(key, [p, 0])[1] += 1
        for key in sorted(variants):
            p, n = variants[key]
            if p is None:
                row = {"algo": algo, "deterministic": NOT_RECORDED, "stochastic": NOT_RECORDED, "extra modes": NOT_RECORDED}
            else:
                row = {"algo": algo, "deterministic": p["deterministic"], "stochastic": p["stochastic"],
                       "extra modes": _extra_text(p)}
            row["runs"] = f"{n} of {len(g)}"
            rows.append(row)
    df = pd.DataFrame(rows, columns=list(COLUMNS) + ["runs"])
    if not df["algo"].duplicated().any():
        df = df.drop(columns=["runs"])
    return df
