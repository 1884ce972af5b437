"""The one training loop shared by every algorithm.

Env stepping, budget accounting (env steps = transitions summed over the batch, times action
repeat), the evaluation schedule, clocks (compile / train / eval seconds, kept apart), records and
checkpoints are identical for all algorithms; the runner does not know whether it drives an
on-policy or an off-policy agent.

Crash safety: an evaluation row is appended (flushed, fsynced) and then a checkpoint is written
atomically. On resume, rows past the checkpoint are dropped and training continues from the
checkpoint, so every run ends with exactly one row per evaluation point.

Resume that changes nothing: the checkpoint (taken after every evaluation point) holds everything
the rest of the run depends on: the agent's ``state_dict`` (networks, optimisers, normalisers, its
generators, the rollout in progress or the replay buffer, counters), the training env's state
(``env_state()``: simulator state, step counters, random streams) and the loop's own state (the
observation to act on, running episode returns, the train-log window and position, the divergence
flag). Evaluation and probes draw from the eval seed afresh at every point, so they carry nothing.
A run killed anywhere and resumed therefore writes the same ``evals.csv`` (clock columns aside) and
train log as an uninterrupted one. Desynchronised start offsets are applied once, at the start; a
resumed env gets its saved state instead. An env without ``env_state`` (IsaacLab: the simulator state
cannot be read back through its API) restarts from a fresh reset seeded from the env stream and the
resume count, so its runs resume statistically, not bitwise (the log line and ``manifest["resume"]``
say which).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from . import records
from .agent import eval_protocol, interact
from .config import config_to_json, resolve_config, run_config_hash
from .evaluation import Evaluator
from .probe_records import ProbeRow, append_probe_row, truncate_probe_rows
from .probes import ProbeSampler, probe_states_of
from .provenance import git_state, host, package_versions, peak_memory_mb
from .registry import AlgorithmSpec, TaskSpec, get_algorithm, get_task
from .seeding import RunSeeds, derive_seed
from .tracking import Sinks, parse_sinks

__all__ = ["RunSpec", "RunResult", "Divergence", "prepare", "train", "run", "eval_grid", "resolve_device"]

CHECKPOINT = "checkpoint.pt"


class Divergence(RuntimeError):
    """NaN or Inf in losses, actions or returns."""


@dataclass(frozen=True)
class RunSpec:
    """One unit of work: (algo, task, seed) with its budget and overrides."""

    algo: str
    """Label used in the records path (a registry name, or a sweep variant label)."""
    task: str
    seed: int
    out: str
    algorithm: str | None = None
    """Registry name; defaults to ``algo``."""
    env_steps: int | None = None
    eval_every: int | None = None
    eval_episodes: int | None = None
    num_envs: int | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    device: str = "auto"
    sweep: str | None = None
    progress_every: float = 10.0
    """Seconds between progress lines (0 disables them)."""
    desync: bool = True
    """Desynchronised starts: each training env begins at a random step of its first episode (offsets
    drawn from the env stream, so every algorithm with the same seed gets the same ones; rsl_rl's
    ``init_at_random_ep_len``). Evaluation envs never are. Records made before this option existed
    ran without it (``LEGACY_PROTOCOL``)."""
    log: tuple[str, ...] = ()
    """Experiment-tracking sinks mirroring the records (``harness.tracking``): tensorboard, wandb."""

    @property
    def registry_name(self) -> str:
        return self.algorithm or self.algo

    def protocol(self) -> dict[str, Any]:
        """The run-protocol settings stored in the manifest (and compared on resume)."""
        return {"desync_starts": self.desync}

    @staticmethod
    def protocol_from_manifest(manifest: Mapping[str, Any]) -> dict[str, Any]:
        """``RunSpec`` keyword arguments that reproduce the protocol a stored run used."""
        p = manifest.get("protocol", LEGACY_PROTOCOL)
        return {"desync": bool(p["desync_starts"])}


LEGACY_PROTOCOL: Mapping[str, Any] = {"desync_starts": False}
"""The protocol of records whose manifest has no ``protocol`` entry (made before it existed)."""


@dataclass(frozen=True)
class RunResult:
    path: Path
    status: str
    skipped: bool = False


@dataclass(frozen=True)
class Prepared:
    """A validated run: everything resolved, nothing touched on disk yet."""

    spec: RunSpec
    algo: AlgorithmSpec
    task: TaskSpec
    config: Any
    seeds: RunSeeds
    env_steps: int
    eval_every: int
    eval_episodes: int
    num_envs: int
    device: str
    path: Path


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available else ``cpu``; anything else must be cpu/cuda[:k]."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" or device == "cuda" or device.startswith("cuda:"):
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available; allowed here: cpu, auto")
        return device
    raise ValueError(f"unknown device {device!r}; allowed: cpu, cuda, cuda:<k>, auto")


MAX_ENV_STEPS = 10**12
"""Largest budget a run accepts: a trillion env steps is beyond any machine's reach today (the largest
published on-policy runs are ~10^10); larger values are typos and would only fail later."""
MAX_EVAL_POINTS = 10_000
"""Largest evaluation grid a run accepts (budget / eval_every)."""


def _positive_int(name: str, value: Any, limit: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if limit is not None and value > limit:
        raise ValueError(f"{name} = {value:,} is beyond any machine's reach; allowed: 1 .. {limit:,}")
    return value


def prepare(spec: RunSpec) -> Prepared:
    """Validate a run spec completely (names, config, budget, device, existing records) without side effects."""
    algo = get_algorithm(spec.registry_name)
    task = get_task(spec.task)
    config = resolve_config(algo, task, spec.overrides)
    if isinstance(spec.seed, bool) or not isinstance(spec.seed, int) or spec.seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {spec.seed!r}")
    env_steps = _positive_int(
        "env_steps (budget)", spec.env_steps if spec.env_steps is not None else task.env_steps, MAX_ENV_STEPS
    )
    eval_every = _positive_int("eval_every", spec.eval_every if spec.eval_every is not None else task.eval_every)
    if -(-env_steps // eval_every) + 1 > MAX_EVAL_POINTS:
        raise ValueError(
            f"budget {env_steps:,} with eval_every {eval_every:,} gives more than {MAX_EVAL_POINTS:,} evaluation "
            f"points; raise eval_every to at least {-(-env_steps // (MAX_EVAL_POINTS - 1)):,}"
        )
    eval_episodes = _positive_int(
        "eval_episodes", spec.eval_episodes if spec.eval_episodes is not None else task.eval_episodes
    )
    cfg_envs = getattr(config, "num_envs", 0) or None
    num_envs = _positive_int("num_envs", spec.num_envs or cfg_envs or task.num_envs, 10**8)
    device = resolve_device(spec.device)
    parse_sinks(list(spec.log))
    path = records.run_dir(spec.out, task.name, spec.algo, spec.seed)
    if (path / "manifest.json").exists():
        old = records.read_manifest(path)
        new_hash = run_config_hash(config)
        same = (
            old.get("protocol", LEGACY_PROTOCOL) == spec.protocol()
            and old.get("config_hash") == new_hash
            and old.get("budget", {}).get("env_steps") == env_steps
            and old.get("budget", {}).get("eval_every") == eval_every
            and old.get("budget", {}).get("eval_episodes") == eval_episodes
            and old.get("budget", {}).get("num_envs") == num_envs
        )
        if not same:
            raise ValueError(
                f"{path} holds a run with a different config, budget or protocol (config_hash "
                f"{old.get('config_hash')} vs {new_hash}, protocol {old.get('protocol', LEGACY_PROTOCOL)} vs "
                f"{spec.protocol()}); refusing to mix them. Use another --out or remove that directory."
            )
    seeds = RunSeeds.derive(spec.seed, task.name, spec.registry_name)
    return Prepared(spec, algo, task, config, seeds, env_steps, eval_every, eval_episodes, num_envs, device, path)


def eval_grid(env_steps: int, eval_every: int) -> list[int]:
    """Evaluation points 0, eval_every, 2*eval_every, ... and always the budget itself."""
    grid = list(range(0, env_steps, eval_every))
    if not grid or grid[-1] != env_steps:
        grid.append(env_steps)
    return grid


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _finite(metrics: Mapping[str, float]) -> bool:
    return all(math.isfinite(float(v)) for v in metrics.values())


class _Progress:
    """Rate-limited one-line progress on stdout."""

    def __init__(self, label: str, total: int, every: float):
        self.label, self.total, self.every = label, total, every
        self.last = -math.inf

    def __call__(self, env_steps: int, sps: float, last_eval: str, force: bool = False) -> None:
        now = time.monotonic()
        if self.every <= 0 or (not force and now - self.last < self.every):
            return
        self.last = now
        pct = 100.0 * env_steps / self.total
        eta = (self.total - env_steps) / sps if sps > 0 else float("nan")
        eta_s = f"{eta:.0f}s" if math.isfinite(eta) else "?"
        print(
            f"[{self.label}] {env_steps:,}/{self.total:,} env steps ({pct:.0f}%) | {sps:,.0f} steps/s"
            f" | last eval {last_eval} | ETA {eta_s}",
            flush=True,
        )


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    tmp = path / f".{CHECKPOINT}.tmp"
    torch.save(state, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path / CHECKPOINT)


def desync_offsets(num_envs: int, episode_length: int, seed: int) -> torch.Tensor:
    """Initial episode steps of desynchronised starts: uniform in ``[0, episode_length)`` per env (CPU
    int64), a function of ``seed`` alone."""
    g = torch.Generator(device="cpu")
    g.manual_seed(seed)
    return torch.randint(0, episode_length, (num_envs,), generator=g)


def desynchronise(env: Any, seed: int) -> torch.Tensor:
    """Start each env of a freshly reset ``env`` at a random step of its first episode (so its first
    episode is cut short by the time limit, as a time-out); returns the offsets."""
    if not hasattr(env, "set_episode_steps"):
        raise ValueError(
            f"{type(env).__name__} cannot start desynchronised (no set_episode_steps); run with desync=false"
        )
    offsets = desync_offsets(env.spec.num_envs, env.spec.episode_length, seed)
    env.set_episode_steps(offsets.to(env.spec.device))
    return offsets


def _load_checkpoint(file: Path, device: str) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``: tensors and plain data only, so a checkpoint from
    elsewhere cannot run code on resume (a pickled callable is refused with ``UnpicklingError``)."""
    return torch.load(file, map_location=device, weights_only=True)


def _truncate_train_log(path: Path, env_steps: int) -> None:
    entries = [e for e in records.read_train_log(path) if e.get("env_steps", 0) <= env_steps]
    import json

    records.atomic_write_text(path / "train_log.jsonl", "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))


def train(prep: Prepared, *, log: Callable[[str], None] = lambda s: print(s, flush=True)) -> RunResult:
    """Run (or resume, or skip) one prepared run to completion; returns its final status."""
    spec, path = prep.spec, prep.path
    if (path / "manifest.json").exists():
        old = records.read_manifest(path)
        if old["status"] in records.FINAL_STATUSES:
            return RunResult(path, old["status"], skipped=True)
    path.mkdir(parents=True, exist_ok=True)
    device = prep.device
    grid = eval_grid(prep.env_steps, prep.eval_every)
    cfg_json = config_to_json(prep.config)
    manifest: dict[str, Any] = {
        "run_id": f"{spec.sweep or 'adhoc'}:{prep.task.name}:{spec.algo}:{spec.seed}",
        "sweep": spec.sweep,
        "algo": spec.algo,
        "algorithm": prep.algo.name,
        "on_policy": prep.algo.on_policy,
        "reference": prep.algo.reference,
        "upstream": prep.algo.upstream,
        "task": prep.task.name,
        "suite": prep.task.suite,
        "seed": spec.seed,
        "seeds": prep.seeds.to_json(),
        "config": cfg_json,
        "config_hash": run_config_hash(prep.config),
        "task_spec": prep.task.to_json(),
        "protocol": spec.protocol(),
        "budget": {
            "env_steps": prep.env_steps,
            "eval_every": prep.eval_every,
            "eval_episodes": prep.eval_episodes,
            "num_envs": prep.num_envs,
            "eval_grid": grid,
        },
        "versions": package_versions(),
        "git": git_state(),
        "device": device if device == "cpu" else f"{device} ({torch.cuda.get_device_name()})",
        "host": host(),
        "torch_threads": torch.get_num_threads(),
        "created_at": _now(),
        "updated_at": _now(),
        "finished_at": None,
        "status": "running",
        "error": None,
        "resumes": 0,
        "clocks": {"train_seconds": 0.0, "eval_seconds": 0.0, "compile_seconds": 0.0, "wall_seconds": 0.0},
        "env_steps": 0,
        "updates": 0,
        "peak_memory_mb": 0.0,
        "env_steps_per_second": 0.0,
    }
    ckpt = None
    if (path / "manifest.json").exists():
        old = records.read_manifest(path)
        manifest["created_at"] = old.get("created_at", manifest["created_at"])
        manifest["resumes"] = int(old.get("resumes", 0)) + 1
        if (path / CHECKPOINT).exists():
            ckpt = _load_checkpoint(path / CHECKPOINT, device)
    if ckpt is None:
        # Fresh start (or killed before the first checkpoint): discard partial records.
        for name in ("evals.csv", "train_log.jsonl", "probes.jsonl"):
            if (path / name).exists():
                (path / name).unlink()
    records.write_manifest(path, manifest)

    label = f"{spec.algo} | {prep.task.name} | seed {spec.seed}"
    meta = {k: manifest[k] for k in ("run_id", "sweep", "algo", "algorithm", "task", "suite", "seed", "seeds",
                                     "config", "config_hash", "budget")}
    sinks = Sinks(spec.log, path, meta, start_step=int(ckpt["env_steps"]) if ckpt else 0, say=log)
    try:
        return _train_loop(prep, manifest, ckpt, grid, label, log, sinks)
    except Divergence as e:
        manifest.update(status="diverged", error=str(e), finished_at=_now(), updated_at=_now())
        records.write_manifest(path, manifest)
        log(f"[{label}] diverged: {e}")
        return RunResult(path, "diverged")
    except BaseException as e:  # noqa: BLE001 - recorded, then re-raised
        manifest.update(
            status="failed",
            error="".join(traceback.format_exception(type(e), e, e.__traceback__))[-8000:],
            updated_at=_now(),
        )
        records.write_manifest(path, manifest)
        raise
    finally:
        sinks.close()


def _train_loop(
    prep: Prepared,
    manifest: dict[str, Any],
    ckpt: dict[str, Any] | None,
    grid: list[int],
    label: str,
    log: Callable[[str], None],
    sinks: Sinks,
) -> RunResult:
    spec, path, task, device = prep.spec, prep.path, prep.task, prep.device
    seeds = prep.seeds
    wall_start = time.perf_counter()

    t0 = time.perf_counter()
    exact = ckpt is not None and ckpt.get("env") is not None
    env_seed = seeds.env if ckpt is None or exact else derive_seed(seeds.env, "resume", manifest["resumes"])
    env = task.factory(prep.num_envs, env_seed, device)
    exact = exact and hasattr(env, "load_env_state")
    evaluator = Evaluator(lambda s: task.factory(prep.eval_episodes, s, device), seeds.eval, bool(task.outcomes))
    if hasattr(env, "compile"):
        env.compile()
    obs = env.reset()
    if exact:
        assert ckpt is not None
        env.load_env_state(ckpt["env"])  # the envs exactly as they were (desync offsets included)
    elif spec.desync:
        desynchronise(env, derive_seed(env_seed, "desync"))
    probe = ProbeSampler(probe_states_of(env), seeds.eval, device)
    compile_seconds = time.perf_counter() - t0

    agent = prep.algo.factory(prep.config, env.spec, seeds, device)
    manifest["eval_protocol"] = eval_protocol(agent)
    env_steps, updates, eval_index = 0, 0, 0
    clocks = dict(manifest["clocks"])
    per_step = prep.num_envs * env.spec.action_repeat
    log_every = max(per_step, prep.env_steps // 200)
    next_log = (env_steps // log_every + 1) * log_every
    window: dict[str, list[float]] = {}
    # Training episode returns, kept on the device (no host sync per step): running return per env,
    # sum and count of the episodes that ended since the last train-log entry.
    ep_return = torch.zeros(prep.num_envs, device=device)
    ended_sum = torch.zeros((), device=device)
    ended_n = torch.zeros((), device=device)
    bad_action = torch.zeros((), dtype=torch.bool, device=device)
    if ckpt is not None:
        agent.load_state_dict(ckpt["agent"])
        env_steps, updates, eval_index = ckpt["env_steps"], ckpt["updates"], ckpt["eval_index"]
        clocks = dict(ckpt["clocks"])
        loop = ckpt.get("loop")
        if exact and loop is not None:
            obs = loop["obs"].to(device)
            ep_return, ended_sum, ended_n = (loop[k].to(device) for k in ("ep_return", "ended_sum", "ended_n"))
            bad_action = loop["bad_action"].to(device)
            next_log, window = int(loop["next_log"]), {k: list(v) for k, v in loop["window"].items()}
        else:
            next_log = (env_steps // log_every + 1) * log_every
            if hasattr(agent, "restart_episodes"):
                agent.restart_episodes()
        records.truncate_eval_rows(path, eval_index)
        truncate_probe_rows(path, eval_index)
        _truncate_train_log(path, env_steps)
        how = "exact: env state restored" if exact else "envs restarted from a fresh reset (no env state saved)"
        manifest["resume"] = "exact" if exact else "statistical"
        log(f"[{label}] resuming at {env_steps:,} env steps (eval {eval_index}/{len(grid)}; {how})")
    clocks["compile_seconds"] = clocks.get("compile_seconds", 0.0) + compile_seconds
    progress = _Progress(label, prep.env_steps, spec.progress_every)
    last_eval = "-"
    train_start = time.perf_counter() - clocks["train_seconds"]
    train_paused = 0.0

    def flush_window() -> None:
        nonlocal window
        if not window:
            return
        entry = {k: sum(v) / len(v) for k, v in window.items()}
        entry.update(env_steps=env_steps, updates=updates, train_seconds=round(clocks["train_seconds"], 3))
        n = int(ended_n)
        if n:
            entry.update(train_episode_return=float(ended_sum) / n, train_episodes=n)
            ended_sum.zero_()
            ended_n.zero_()
        records.append_train_log(path, entry)
        sinks.train_log(entry)
        window = {}

    while True:
        if eval_index < len(grid) and env_steps >= grid[eval_index]:
            clocks["train_seconds"] = time.perf_counter() - train_start - train_paused
            if bool(bad_action):
                raise Divergence(f"non-finite action before {env_steps} env steps")
            t_eval = time.perf_counter()
            row = evaluator(agent)
            probe_samples = probe(agent)
            clocks["eval_seconds"] += time.perf_counter() - t_eval
            train_paused += time.perf_counter() - t_eval
            if not (math.isfinite(row["return_mean"]) and math.isfinite(row["stochastic_return_mean"])):
                raise Divergence(f"non-finite evaluation return at {env_steps} env steps")
            mem = peak_memory_mb()
            row.update(
                eval_index=eval_index,
                env_steps=grid[eval_index],
                env_steps_actual=env_steps,
                updates=updates,
                train_seconds=round(clocks["train_seconds"], 3),
                eval_seconds=round(clocks["eval_seconds"], 3),
                compile_seconds=round(clocks["compile_seconds"], 3),
                peak_memory_mb=mem,
            )
            flush_window()
            records.append_eval_row(path, row)
            sinks.eval_row(row)
            if probe_samples:
                append_probe_row(path, ProbeRow(eval_index, grid[eval_index], probe_samples))
            eval_index += 1
            last_eval = f"det {row['return_mean']:.1f} / sto {row['stochastic_return_mean']:.1f}"
            t_ck = time.perf_counter()
            _save_checkpoint(
                path,
                {"agent": agent.state_dict(), "env_steps": env_steps, "updates": updates,
                 "eval_index": eval_index, "clocks": clocks,
                 "env": env.env_state() if hasattr(env, "env_state") else None,
                 "loop": {"obs": obs.clone(), "ep_return": ep_return.clone(), "ended_sum": ended_sum.clone(),
                          "ended_n": ended_n.clone(), "bad_action": bad_action.clone(), "next_log": next_log,
                          "window": window}},
            )
            train_paused += time.perf_counter() - t_ck
            clocks["wall_seconds"] = clocks.get("wall_seconds", 0.0) + (time.perf_counter() - wall_start)
            wall_start = time.perf_counter()
            sps = env_steps / clocks["train_seconds"] if clocks["train_seconds"] > 0 else 0.0
            manifest.update(
                clocks={k: round(v, 3) for k, v in clocks.items()}, env_steps=env_steps, updates=updates,
                peak_memory_mb=mem, env_steps_per_second=round(sps, 1), updated_at=_now(),
            )
            records.write_manifest(path, manifest)
            progress(env_steps, sps, last_eval, force=True)
            if eval_index >= len(grid):
                break

        t = interact(agent, env, obs)
        bad_action |= ~torch.isfinite(t.action).all()
        ep_return += t.reward
        done = t.terminated | t.truncated
        ended_sum += torch.where(done, ep_return, torch.zeros_like(ep_return)).sum()
        ended_n += done.sum()
        ep_return.masked_fill_(done, 0.0)
        obs = t.carry_obs
        env_steps += per_step
        if agent.ready():
            metrics = agent.update()
            if not _finite(metrics):
                bad = {k: v for k, v in metrics.items() if not math.isfinite(float(v))}
                raise Divergence(f"non-finite update metrics at {env_steps} env steps: {bad}")
            updates += int(metrics.get("gradient_steps", 1))
            for k, v in metrics.items():
                window.setdefault(k, []).append(float(v))
            if env_steps >= next_log:
                clocks["train_seconds"] = time.perf_counter() - train_start - train_paused
                flush_window()
                next_log = (env_steps // log_every + 1) * log_every
        if spec.progress_every > 0:
            elapsed = time.perf_counter() - train_start - train_paused
            progress(env_steps, env_steps / max(elapsed, 1e-9), last_eval)

    env.close()
    evaluator.close()
    clocks["wall_seconds"] = clocks.get("wall_seconds", 0.0) + (time.perf_counter() - wall_start)
    manifest.update(
        status="complete", finished_at=_now(), updated_at=_now(), clocks={k: round(v, 3) for k, v in clocks.items()}
    )
    records.write_manifest(path, manifest)
    return RunResult(path, "complete")


def run(spec: RunSpec) -> RunResult:
    """Prepare and train one run."""
    return train(prepare(spec))

