"""Command-line glue of the cluster executors, kept out of ``dpbench.cli`` so the CLI only plumbs:
``add_sweep_arguments`` adds the options, ``executor_options`` validates them (exit 2 before
anything is submitted or written), ``run_executor`` dispatches, ``status_main`` is
``dpbench sweep status``."""

from __future__ import annotations

import argparse
import sys

from .options import ExecutorOptionError, RayOptions, SlurmOptions, check_shared_out

__all__ = ["add_sweep_arguments", "executor_options", "run_executor", "describe", "status_main", "EXECUTORS"]

EXECUTORS = ("local", "ray", "slurm")
_RAY_ONLY = ("address", "max_retries")
_SLURM_ONLY = ("partition", "account", "time", "mem", "sbatch", "slurm_array_parallelism", "max_requeues", "no_wait")
_CLUSTER = ("cpus_per_run", "gpus_per_run")


def add_sweep_arguments(s: argparse.ArgumentParser) -> None:
    """Options of ``dpbench sweep`` for the executors and the tracking sinks."""
    s.add_argument("--executor", default="local", help="local (default; --workers processes), ray or slurm")
    s.add_argument("--log", default=None, metavar="SINKS",
                   help="experiment-tracking sinks, comma-separated: tensorboard, wandb (records stay the truth)")
    c = s.add_argument_group("ray and slurm executors")
    c.add_argument("--cpus-per-run", type=float, help="CPUs per run (Ray: fractional allowed; default 1)")
    c.add_argument("--gpus-per-run", type=float, help="GPUs per run (Ray: a fraction < 1 packs runs on a GPU; default 0)")
    r = s.add_argument_group("ray executor")
    r.add_argument("--address", help="Ray cluster: auto (default), local, HOST:PORT or ray://HOST:PORT")
    r.add_argument("--max-retries", type=int, help="Ray retries of a run whose worker/node died (default 3)")
    m = s.add_argument_group("slurm executor (submitit)")
    m.add_argument("--partition", help="Slurm partition")
    m.add_argument("--account", help="Slurm account")
    m.add_argument("--time", help="time limit per run task, Slurm syntax (default 4:00:00); requeued at the limit")
    m.add_argument("--mem", help="memory per run task, e.g. 8G (default: the partition's)")
    m.add_argument("--sbatch", action="append", metavar="FLAG", help="extra sbatch flag, repeatable: --sbatch=--qos=high")
    m.add_argument("--slurm-array-parallelism", type=int, help="at most this many runs at once (default 64)")
    m.add_argument("--max-requeues", type=int, help="time-limit requeues per run (default 3)")
    m.add_argument("--no-wait", action="store_true", help="exit after submission (then: dpbench sweep status)")


def _given(args: argparse.Namespace, names: tuple[str, ...]) -> list[str]:
    return ["--" + n.replace("_", "-") for n in names if getattr(args, n, None) not in (None, False)]


def executor_options(args: argparse.Namespace) -> tuple[str, RayOptions | SlurmOptions | None, str | None]:
    """Validate the executor choice and its options: ``(executor, options, out)``; raises
    ``ExecutorOptionError`` naming every misplaced or bad option."""
    ex = args.executor
    if ex not in EXECUTORS:
        raise ExecutorOptionError(f"unknown --executor {ex!r}; allowed: {', '.join(EXECUTORS)}")
    wrong = {"local": _RAY_ONLY + _SLURM_ONLY + _CLUSTER, "ray": _SLURM_ONLY, "slurm": _RAY_ONLY}[ex]
    bad = _given(args, wrong)
    if ex != "local" and getattr(args, "workers", None) is not None:
        bad.append("--workers")
    if bad:
        raise ExecutorOptionError(f"{', '.join(bad)} do(es) not apply to --executor {ex}"
                                  + (" (cluster options need --executor ray or slurm)" if ex == "local" else ""))
    if ex == "local":
        return ex, None, args.out
    out = check_shared_out(args.out, ex)
    if ex == "ray":
        opts: RayOptions | SlurmOptions = RayOptions(
            address=args.address or "auto",
            cpus_per_run=1.0 if args.cpus_per_run is None else args.cpus_per_run,
            gpus_per_run=0.0 if args.gpus_per_run is None else args.gpus_per_run,
            max_retries=3 if args.max_retries is None else args.max_retries,
        )
    else:
        def whole(name: str, v: float | None, default: int) -> int:
            if v is None:
                return default
            if v != int(v):
                raise ExecutorOptionError(f"--{name} {v:g}: Slurm allocates whole {'GPUs' if 'gpu' in name else 'CPUs'}; "
                                          "allowed: an integer (pack fractions with --executor ray)")
            return int(v)
        opts = SlurmOptions(
            partition=args.partition, account=args.account, time=args.time or "4:00:00",
            cpus_per_run=whole("cpus-per-run", args.cpus_per_run, 1),
            gpus_per_run=whole("gpus-per-run", args.gpus_per_run, 0), mem=args.mem,
            array_parallelism=64 if args.slurm_array_parallelism is None else args.slurm_array_parallelism,
            max_requeues=3 if args.max_requeues is None else args.max_requeues,
            sbatch=tuple(args.sbatch or ()),
        )
    return ex, opts, out


def describe(ex: str, opts, runs, out: str, name: str) -> str:
    from .. import records
    from .progress import run_status

    todo = sum(run_status(rs) not in records.FINAL_STATUSES for rs in runs)
    if ex == "ray":
        from .ray_exec import describe_ray

        return describe_ray(runs, opts, todo)
    from .slurm import describe_slurm

    return describe_slurm(runs, opts, out, todo, name)


def run_executor(ex: str, opts, runs, out: str, name: str, no_wait: bool = False) -> dict[str, int]:
    if ex == "ray":
        from .ray_exec import run_ray

        return run_ray(runs, opts)
    from .slurm import run_slurm

    return run_slurm(runs, opts, out, name, wait=not no_wait)


def status_main(argv: list[str]) -> int:
    """``dpbench sweep status SPEC --out DIR``: counts and the unfinished runs; exit 2 on bad input."""
    from ..sweep import SpecError, load_spec, plan
    from .status import format_status, sweep_status

    p = argparse.ArgumentParser(prog="dpbench sweep status",
                                description="where every run of a sweep stands (from the records, plus squeue)")
    p.add_argument("spec", help="the sweep's TOML spec")
    p.add_argument("--out", help="records root (default runs/<spec name>)")
    args = p.parse_args(argv)
    try:
        spec = load_spec(args.spec)
        out = args.out or f"runs/{spec.name}"
        runs = plan(spec, out, device="cpu")
    except SpecError as e:
        print(f"dpbench sweep status: error: {e}", file=sys.stderr)
        return 2
    print(format_status(sweep_status(runs, out), spec.name, out))
    return 0
