"""Optional experiment-tracking sinks (``--log tensorboard,wandb``) fed from the runner.

The records (``evals.csv``, ``train_log.jsonl``, ``manifest.json``) stay the source of truth; a sink
only mirrors them. A sink never blocks or fails a run: if it cannot start (package missing, no
W&B login) or any call raises, it says once why it is off and the run goes on without it.

* ``tensorboard``: event files in ``<run dir>/tensorboard/`` (``tensorboard --logdir OUT`` shows
  every run, grouped by suite/task/algo/seed through the directory tree); x axis = env steps; the
  resolved config and seed as text and hparams. A resumed run purges events past its checkpoint.
* ``wandb``: one W&B run per attempt, ``group`` = sweep name, ``job_type`` = algorithm label, tags
  suite/task/algo, ``config`` = resolved config + seed + budget. Mode: ``WANDB_MODE`` when set
  (``offline`` writes ``<run dir>/wandb/offline-run-*`` for ``wandb sync``); otherwise online when
  logged in (``WANDB_API_KEY`` or ``wandb login``), else off with the reason printed.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Callable, Mapping

__all__ = ["SINKS", "parse_sinks", "Sinks"]

SINKS = ("tensorboard", "wandb")
_SCALAR_EVAL = ("return_mean", "return_std", "stochastic_return_mean", "stochastic_return_std",
                "episode_length_mean", "train_seconds", "eval_seconds", "peak_memory_mb", "updates")


def parse_sinks(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """``"tensorboard,wandb"`` (or a list) -> validated names; raises ValueError naming the allowed ones."""
    if not value:
        return ()
    items = value.split(",") if isinstance(value, str) else [p for v in value for p in str(v).split(",")]
    names = tuple(dict.fromkeys(s.strip().lower() for s in items if s.strip()))
    bad = [n for n in names if n not in SINKS]
    if bad:
        raise ValueError(f"unknown --log sink(s) {bad}; allowed: {', '.join(SINKS)} (comma-separated)")
    return names


class _Sink:
    name = "sink"

    def __init__(self, say: Callable[[str], None]):
        self.say, self.on = say, True

    def off(self, why: str) -> None:
        if self.on:
            self.on = False
            self.say(f"[log] {self.name} sink off: {why} (the run goes on; records are unaffected)")

    def eval_row(self, row: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def train_log(self, entry: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def guard(self, fn: Callable[[], None]) -> None:
        if not self.on:
            return
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - a sink never fails a run
            self.off(f"{type(e).__name__}: {e}")


def _scalars(row: Mapping[str, Any], keys: tuple[str, ...] | None = None) -> dict[str, float]:
    out = {}
    for k, v in row.items():
        if keys is not None and k not in keys:
            continue
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v)):
            out[k] = float(v)
    return out


class _TensorBoard(_Sink):
    name = "tensorboard"

    def __init__(self, say: Callable[[str], None], path: Path, meta: Mapping[str, Any], start_step: int):
        super().__init__(say)
        self.w: Any = None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except Exception as e:  # noqa: BLE001 - ImportError or a broken tensorboard install
            self.off(f"tensorboard is not installed ({e}); pip install -e '.[tracking]'")
            return

        def start() -> None:
            self.w = SummaryWriter(log_dir=str(path / "tensorboard"), purge_step=start_step or None)
            if not start_step:
                self.w.add_text("run/config", "```\n" + json.dumps(meta, indent=2, sort_keys=True) + "\n```", 0)
        self.guard(start)

    def eval_row(self, row: Mapping[str, Any]) -> None:
        def f() -> None:
            step = int(row["env_steps"])
            for k, v in _scalars(row, _SCALAR_EVAL).items():
                self.w.add_scalar(f"eval/{k}", v, step)
            for mode, d in (row.get("extra") or {}).items():
                if isinstance(d, Mapping) and isinstance(d.get("return_mean"), (int, float)):
                    self.w.add_scalar(f"eval/{mode}/return_mean", float(d["return_mean"]), step)
            self.w.flush()
        self.guard(f)

    def train_log(self, entry: Mapping[str, Any]) -> None:
        def f() -> None:
            step = int(entry["env_steps"])
            for k, v in _scalars(entry).items():
                if k != "env_steps":
                    self.w.add_scalar(f"train/{k}", v, step)
        self.guard(f)

    def close(self) -> None:
        self.guard(lambda: self.w.close())


def _wandb_logged_in() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    netrc = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return "api.wandb.ai" in netrc.read_text()
    except OSError:
        return False


class _Wandb(_Sink):
    name = "wandb"

    def __init__(self, say: Callable[[str], None], path: Path, meta: Mapping[str, Any], start_step: int):
        super().__init__(say)
        self.run: Any = None
        mode: Any = os.environ.get("WANDB_MODE", "").lower() or None
        if mode == "disabled":
            self.off("WANDB_MODE=disabled")
            return
        if mode is None and not _wandb_logged_in():
            self.off("not logged in to W&B (no WANDB_API_KEY, no `wandb login`); set WANDB_MODE=offline to log "
                     "offline and `wandb sync` later")
            return
        try:
            import wandb
        except Exception as e:  # noqa: BLE001
            self.off(f"wandb is not installed ({e}); pip install -e '.[tracking]'")
            return
        self.wandb = wandb

        def start() -> None:
            self.run = wandb.init(
                project=os.environ.get("WANDB_PROJECT", "dpbench"), dir=str(path), mode=mode or "online",
                group=meta.get("sweep") or "adhoc", job_type=meta["algo"],
                name=f"{meta['task']}/{meta['algo']}/seed_{meta['seed']}",
                tags=[meta["suite"], meta["task"], meta["algo"]], config=dict(meta),
                reinit="create_new", settings=wandb.Settings(init_timeout=120, console="off", silent=True),
            )
            self.run.define_metric("env_steps")
            self.run.define_metric("*", step_metric="env_steps")
            if start_step:
                self.run.summary["resumed_at_env_steps"] = start_step
        self.guard(start)
        if self.on and self.run is None:
            self.off("wandb.init returned no run")

    def eval_row(self, row: Mapping[str, Any]) -> None:
        def f() -> None:
            data = {f"eval/{k}": v for k, v in _scalars(row, _SCALAR_EVAL).items()}
            data["env_steps"] = int(row["env_steps"])
            self.run.log(data)
        self.guard(f)

    def train_log(self, entry: Mapping[str, Any]) -> None:
        def f() -> None:
            data = {f"train/{k}": v for k, v in _scalars(entry).items() if k != "env_steps"}
            data["env_steps"] = int(entry["env_steps"])
            self.run.log(data)
        self.guard(f)

    def close(self) -> None:
        self.guard(lambda: self.run.finish())


class Sinks:
    """The sinks of one run attempt; every method is a no-op when none is configured."""

    def __init__(self, names: tuple[str, ...] | list[str], path: Path, meta: Mapping[str, Any], start_step: int = 0,
                 say: Callable[[str], None] = lambda s: print(s, flush=True)):
        kinds: dict[str, type[_TensorBoard] | type[_Wandb]] = {"tensorboard": _TensorBoard, "wandb": _Wandb}
        self.sinks = [kinds[n](say, path, meta, start_step) for n in parse_sinks(list(names))]

    def eval_row(self, row: Mapping[str, Any]) -> None:
        for s in self.sinks:
            s.eval_row(row)

    def train_log(self, entry: Mapping[str, Any]) -> None:
        for s in self.sinks:
            s.train_log(entry)

    def close(self) -> None:
        for s in self.sinks:
            s.close()
