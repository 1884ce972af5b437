"""``dpbench`` command line: list | run | sweep | figures | bench.

Every bad input (unknown algorithm, task or config key, wrong value type, missing or malformed spec,
non-positive budget, unavailable task) exits with status 2 and a message naming the bad value and
the allowed ones, before any run starts and before anything in ``--out`` is touched.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["main"]

EXIT_BAD_INPUT = 2


class _BadInput(Exception):
    pass


def _positive_int(text: str) -> int:
    try:
        v = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return v


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a non-negative integer") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a non-negative integer")
    return v


def _cmd_list(args: argparse.Namespace) -> int:
    from harness.registry import broken_plugins, list_algorithms, list_tasks

    if args.what in (None, "algorithms"):
        print("algorithms:")
        for a in list_algorithms():
            kind = "reference" if a.reference else "on-policy" if a.on_policy else "off-policy"
            print(f"  {a.name:<14} {kind:<11} upstream: {a.upstream}")
    for name, err in broken_plugins().items():
        print(f"  [plugin {name!r} failed to load: {err}]", file=sys.stderr)
    if args.what in (None, "tasks"):
        print("tasks:")
        for t in list_tasks():
            why = t.available()
            state = "" if why is None else "  [unavailable here: " + why.splitlines()[0][:90] + "]"
            print(f"  {t.name:<45} budget {t.env_steps:>12,} env steps{state}")
    return 0


def _set_threads(n: int | None) -> None:
    if n:
        import torch

        torch.set_num_threads(n)


def _cmd_run(args: argparse.Namespace) -> int:
    from harness.config import ConfigError, parse_assignments
    from harness.registry import RegistryError
    from harness.runner import RunSpec, prepare, train
    from harness.tracking import parse_sinks

    try:
        overrides = parse_assignments(args.set)
        spec = RunSpec(
            algo=args.algo, task=args.task, seed=args.seed, out=args.out, env_steps=args.env_steps,
            eval_every=args.eval_every, eval_episodes=args.eval_episodes, num_envs=args.num_envs,
            overrides=overrides, device=args.device, progress_every=args.progress_every,
            log=parse_sinks(args.log),
        )
        prep = prepare(spec)
        python = prep.task.python()
        if python:  # the task runs in its suite's own venv: the same command there, its exit status ours
            print(f"[run] {prep.task.name} runs in its own venv: delegating to {python}", flush=True)
            return subprocess.call([python, "-m", "dpbench", *args.argv])
        why = prep.task.available()
        if why:
            raise _BadInput(f"task {prep.task.name!r} cannot run here: {why}")
    except (ConfigError, RegistryError, ValueError, _BadInput) as e:
        print(f"dpbench run: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    _set_threads(args.threads)
    print(f"[run] {args.algo} on {prep.task.name}, seed {args.seed}, {prep.env_steps:,} env steps, "
          f"{prep.num_envs} envs, device {prep.device} -> {prep.path}", flush=True)
    result = train(prep)
    if result.skipped:
        print(f"[run] already {result.status}: {result.path} (remove it to re-run)")
    else:
        print(f"[run] {result.status}: {result.path}")
    return 0 if result.status in ("complete", "diverged") else 1


def _subset(planned: list, seeds: tuple[int, ...], algos: tuple[str, ...], only_seeds: str | None,
            only_algos: str | None) -> list:
    """The planned runs restricted to ``--seeds`` / ``--algos`` (each must name members of the spec)."""
    if only_seeds is not None:
        try:
            want_s = {int(x) for x in only_seeds.split(",") if x.strip()}
        except ValueError:
            raise ValueError(f"--seeds {only_seeds!r}: comma-separated integers, a subset of the spec's {list(seeds)}") from None
        if not want_s or not want_s <= set(seeds):
            raise ValueError(f"--seeds {only_seeds!r}: must be a non-empty subset of the spec's seeds {list(seeds)}")
        planned = [rs for rs in planned if rs.seed in want_s]
    if only_algos is not None:
        want_a = {x.strip() for x in only_algos.split(",") if x.strip()}
        if not want_a or not want_a <= set(algos):
            raise ValueError(f"--algos {only_algos!r}: must be a non-empty subset of the spec's algorithms {list(algos)}")
        planned = [rs for rs in planned if rs.algo in want_a]
    return planned


def _cmd_sweep(args: argparse.Namespace) -> int:
    import dataclasses

    from harness.executors import cli as ex_cli
    from harness.sweep import SpecError, load_spec, plan, run_local
    from harness.tracking import parse_sinks

    try:
        spec = load_spec(args.spec)
        executor, ex_opts, out = ex_cli.executor_options(args)
        out = out or str(Path("runs") / spec.name)
        sinks = parse_sinks(args.log)
        planned = plan(spec, out, device=args.device, check_device=executor == "local")
        planned = _subset(planned, spec.seeds, spec.algorithms, args.seeds, args.algos)
        runs = [dataclasses.replace(rs, log=sinks) for rs in planned]
    except (SpecError, ValueError) as e:
        print(f"dpbench sweep: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.dry_run:
        if executor != "local":
            print(ex_cli.describe(executor, ex_opts, runs, out, spec.name))
        for rs in runs:
            print(f"{rs.algo:<14} {rs.task:<32} seed {rs.seed}  env_steps {rs.env_steps or 'task default'}")
        return 0
    if executor == "local":
        counts = run_local(runs, workers=args.workers or 1, threads=args.threads)
    else:
        try:
            counts = ex_cli.run_executor(executor, ex_opts, runs, out, spec.name, no_wait=args.no_wait)
        except ValueError as e:  # ExecutorOptionError: Ray/submitit missing, cluster unreachable, too big a run
            print(f"dpbench sweep: error: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if "submitted" in counts:  # --no-wait: nothing finished yet, no figures
            return 0
    rc = 0 if counts["failed"] == 0 else 1
    if not args.no_figures:
        try:
            from analysis import cli as analysis_cli
        except ImportError as e:
            print(f"[sweep] figures skipped: analysis extra not installed ({e}); pip install -e '.[analysis]'")
            return rc
        print(f"[sweep] regenerating figures and tables from {out}", flush=True)
        fig_argv = [out, "--allow-incomplete"] if counts["failed"] else [out]
        fig_rc = analysis_cli.main(analysis_cli.build_parser().parse_args(fig_argv))
        rc = rc or fig_rc
    return rc


def _cmd_config(args: argparse.Namespace) -> int:
    from harness.config import ConfigError, resolve_config
    from harness.config_doc import describe_config
    from harness.registry import RegistryError, get_algorithm, get_task

    try:
        algo = get_algorithm(args.algo)
        resolved = resolve_config(algo, get_task(args.task)) if args.task else None
    except (RegistryError, ConfigError) as e:
        print(f"dpbench config: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    where = f" (-> values resolved for {args.task}: tuned presets applied)" if args.task else ""
    print(f"{algo.name}: every key accepted by --set / [config.{algo.name}]{where}")
    print(describe_config(algo.config_cls(), resolved))
    return 0


def _cmd_figures(args: argparse.Namespace) -> int:
    try:
        from analysis import cli as analysis_cli
    except ImportError as e:
        print(f"dpbench figures: error: the analysis extra is not installed ({e}); pip install -e '.[analysis]'",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    return analysis_cli.main(args)


def _cmd_bench(args: argparse.Namespace) -> int:
    root = Path(__file__).resolve().parent.parent / "bench"
    names = sorted(p.stem for p in root.glob("*.py") if not p.stem.startswith("_")) if root.is_dir() else []
    if args.name not in names:
        print(f"dpbench bench: error: unknown benchmark {args.name!r}; available: {', '.join(names) or '(none: bench/ ships with the source checkout)'}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return subprocess.call([sys.executable, str(root / f"{args.name}.py"), *args.bench_args])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dpbench", description="Diffusion-policy RL benchmark suite.")
    sub = p.add_subparsers(dest="command", required=True)

    ls = sub.add_parser("list", help="list registered algorithms and/or tasks")
    ls.add_argument("what", nargs="?", choices=["algorithms", "tasks"])

    c = sub.add_parser("config", help="an algorithm's hyperparameters: type, default, meaning (and values for a task)")
    c.add_argument("algo", help="registered algorithm")
    c.add_argument("--task", help="show the values resolved for this task (tuned presets applied)")

    r = sub.add_parser("run", help="train one (algorithm, task, seed)")
    r.add_argument("--algo", required=True, help="registered algorithm (see `dpbench list algorithms`)")
    r.add_argument("--task", required=True, help="registered task, e.g. playground/CartpoleBalance")
    r.add_argument("--seed", type=_seed, default=0, help="root seed (default 0)")
    r.add_argument("--env-steps", type=_positive_int, help="training budget in env steps (default: the task's)")
    r.add_argument("--eval-every", type=_positive_int, help="evaluation period in env steps")
    r.add_argument("--eval-episodes", type=_positive_int, help="episodes per evaluation")
    r.add_argument("--num-envs", type=_positive_int, help="parallel training envs")
    r.add_argument("--out", default="runs", help="records root (default ./runs)")
    r.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override, repeatable")
    r.add_argument("--device", default="auto", help="cpu | cuda | cuda:<k> | auto (default)")
    r.add_argument("--threads", type=_positive_int, help="torch CPU threads")
    r.add_argument("--progress-every", type=float, default=10.0, help="seconds between progress lines (0: off)")
    r.add_argument("--log", metavar="SINKS", help="experiment-tracking sinks, comma-separated: tensorboard, wandb")

    s = sub.add_parser("sweep", help="run a sweep spec (resumable)")
    s.add_argument("spec", help="TOML sweep spec, e.g. configs/quick.toml")
    s.add_argument("--out", help="records root (default runs/<spec name>)")
    s.add_argument("--workers", type=_positive_int, help="parallel runs of --executor local (default 1)")
    s.add_argument("--threads", type=_positive_int, help="torch threads per run (default cores / workers)")
    s.add_argument("--device", help="override the spec's device")
    s.add_argument("--dry-run", action="store_true", help="validate and print the plan, run nothing")
    s.add_argument("--no-figures", action="store_true", help="do not regenerate figures at the end")
    s.add_argument("--seeds", metavar="LIST", help="run only these seeds of the spec, e.g. 2,3 (same records)")
    s.add_argument("--algos", metavar="LIST", help="run only these algorithms/variants of the spec, comma-separated")
    from harness.executors.cli import add_sweep_arguments

    add_sweep_arguments(s)

    f = sub.add_parser("figures", help="figures, tables and report regenerated from stored records")
    try:
        from analysis.cli import add_arguments
    except ImportError:  # analysis extra not installed: accept anything, fail clearly when run
        f.add_argument("figures_args", nargs=argparse.REMAINDER)
    else:
        add_arguments(f)

    b = sub.add_parser("bench", help="run a benchmark script from bench/")
    b.add_argument("name", help="benchmark name (file stem in bench/)")
    b.add_argument("bench_args", nargs=argparse.REMAINDER)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["sweep", "status"] and not Path("status").is_file():
        from harness.executors.cli import status_main

        return status_main(argv[2:])
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        if args.command == "list":
            return _cmd_list(args)
        if args.command == "config":
            return _cmd_config(args)
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "sweep":
            return _cmd_sweep(args)
        if args.command == "bench":
            return _cmd_bench(args)
        if args.command == "figures":
            return _cmd_figures(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return EXIT_BAD_INPUT

