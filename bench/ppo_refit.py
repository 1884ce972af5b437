"""Issue 13, finding 6: why does CPPO's clean PPO limit (``delta_limit``) learn CartpoleBalance worse than
Gaussian PPO? The separating experiment: Gaussian PPO whose actor mean is re-fitted by regression to
its improved mean on the current rollout's states every iteration (as CPPO re-fits its flow), with and
without desynchronised training starts, next to plain Gaussian PPO.

``ppo_refit`` (registered here, not in the registry's entry points: an experiment, not a baseline) is
Gaussian PPO (``baselines.ppo``) plus, after each PPO update: a persistent student copy of the actor MLP
(own Adam, ``refit_lr``) is regressed for ``refit_epochs x refit_minibatches`` steps onto the updated
actor's mean at the rollout's states (MSE, gradient-norm clip ``max_grad_norm``), and then replaces the
actor's mean weights (the std parameter, the critic and the PPO optimiser's state are kept). With
``refit=false`` it is exactly Gaussian PPO. So the only difference from PPO is that the mean is what a
regression on the last window of states makes of PPO's improved mean: CPPO's ``delta_limit`` with a
Gaussian instead of a flow, no per-state a0 noise.

    PYTHONPATH=. python bench/ppo_refit.py --task playground/CartpoleBalance --seeds 0 1 --env-steps 240000 \\
        --eval-every 60000 --out /tmp/ppo_refit
    # variants: ppo / ppo_refit, each with desync on and off (4 runs per seed); prints a table

Records go to ``--out`` (a normal records tree: ``<out>/<suite>/<task>/<label>/seed_<k>``).
"""

from __future__ import annotations

import argparse
import copy
import csv
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import torch

from baselines.ppo.agent import PPOAgent
from baselines.ppo.config import TUNED, PPOConfig
from harness.env import EnvSpec
from harness.registry import register_algorithm
from harness.runner import RunSpec, run
from harness.seeding import RunSeeds


@dataclasses.dataclass(frozen=True)
class RefitPPOConfig(PPOConfig):
    """Gaussian PPO plus the actor re-fit of finding 6."""

    refit: bool = True
    """Re-fit the actor's mean by regression after each update (False: plain Gaussian PPO)."""
    refit_epochs: int = 15
    """Regression passes over the rollout's states (CPPO's ``distill_epochs``)."""
    refit_minibatches: int = 4
    """Regression minibatches per pass (CPPO's ``distill_minibatches``)."""
    refit_lr: float = 3e-4
    """Adam learning rate of the persistent student (CPPO's ``flow_lr``)."""


class RefitPPOAgent(PPOAgent):
    """Gaussian PPO whose actor mean is replaced, after every update, by a student regressed onto it."""

    def __init__(self, cfg: RefitPPOConfig, spec: EnvSpec, seeds: RunSeeds, device: str):
        super().__init__(cfg, spec, seeds, device)
        self.student = copy.deepcopy(self.net.actor)
        self.student_optimizer = torch.optim.Adam(self.student.parameters(), lr=cfg.refit_lr)

    def update(self) -> dict[str, float]:
        cfg = self.cfg
        obs_n = self._norm(self.buffer["obs"]).reshape(-1, self.spec.obs_dim).clone()  # the rollout's normalisation
        out = super().update()
        if not cfg.refit:
            return out
        with torch.no_grad():
            target = self.net.actor(obs_n)
        n = obs_n.shape[0]
        size = max(1, n // cfg.refit_minibatches)
        for _ in range(cfg.refit_epochs):
            order = torch.randperm(n, generator=self.gen, device=self.gen.device).to(obs_n.device)
            for i in range(cfg.refit_minibatches):
                idx = order[i * size:(i + 1) * size]
                loss = (self.student(obs_n[idx]) - target[idx]).pow(2).sum(-1).mean()
                self.student_optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.student.parameters(), cfg.max_grad_norm)
                self.student_optimizer.step()
        with torch.no_grad():
            err = (self.student(obs_n) - target).norm(dim=-1).mean()
            shift = (target - self.student(obs_n)).norm(dim=-1)
            for p, q in zip(self.net.actor.parameters(), self.student.parameters()):
                p.copy_(q)
        out.update(refit_err=float(err), refit_err_max=float(shift.max()))
        return out

    def state_dict(self) -> dict[str, Any]:
        return super().state_dict() | {"student": self.student.state_dict(),
                                       "student_optimizer": self.student_optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.student.load_state_dict(state["student"])
        self.student_optimizer.load_state_dict(state["student_optimizer"])


@register_algorithm(name="ppo_refit", config=RefitPPOConfig, on_policy=True, upstream="this work (issue 13 finding 6)",
                    tuned=TUNED)
def make_ppo_refit(cfg: RefitPPOConfig, spec: EnvSpec, seeds: RunSeeds, device: str) -> RefitPPOAgent:
    return RefitPPOAgent(cfg, spec, seeds, device)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="playground/CartpoleBalance")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--env-steps", type=int, default=240_000)
    ap.add_argument("--eval-every", type=int, default=60_000)
    ap.add_argument("--eval-episodes", type=int, default=5)
    ap.add_argument("--variants", nargs="+", default=["ppo", "refit", "ppo_sync", "refit_sync"],
                    help="any of ppo, refit, ppo_sync, refit_sync")
    ap.add_argument("--set", action="append", default=[], help="extra config override key=value for every variant")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    extra = dict(kv.split("=", 1) for kv in args.set)
    rows = []
    for seed in args.seeds:
        for v in args.variants:
            refit, sync = v.startswith("refit"), v.endswith("_sync")
            spec = RunSpec(algo=f"ppo_{v}", algorithm="ppo_refit", task=args.task, seed=seed, out=args.out,
                           env_steps=args.env_steps, eval_every=args.eval_every, eval_episodes=args.eval_episodes,
                           overrides={"refit": refit, **extra}, device="cpu", progress_every=0, desync=not sync)
            res = run(spec)
            evals = list(csv.DictReader(open(Path(res.path) / "evals.csv")))
            rows.append({"variant": v, "seed": seed, "curve": [round(float(r["return_mean"])) for r in evals]})
            print(json.dumps(rows[-1]), flush=True)
    print("| variant | seed | deterministic return at each evaluation |\n|---|---|---|")
    for r in rows:
        print(f"| {r['variant']} | {r['seed']} | {', '.join(map(str, r['curve']))} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
