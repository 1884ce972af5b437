"""The ``brax_dmc`` preset against Brax's own numbers, and the PPO options it switches on (segment GAE,
tanh-Normal policy with Brax's entropy estimate, gradient-clipping modes, preset selection)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from harness.blocks.ppo import BRAX_DMC_LOOP, PPOLoopConfig, RolloutMixin, brax_dmc_structure
from harness.config import ConfigError, config_hash, config_to_json, resolve_config, run_config_hash
from harness.registry import get_algorithm, get_task
from harness.sweep import _overrides, load_spec

ROOT = Path(__file__).resolve().parents[2]

# Playground 0.2.0 dm_control_suite_params.brax_ppo_config, written out by hand.
PLAYGROUND_DMC = {"num_envs": 2048, "batch_size": 1024, "num_minibatches": 32, "unroll_length": 30,
                  "num_updates_per_batch": 16, "discounting": 0.995, "learning_rate": 1e-3,
                  "entropy_cost": 1e-2, "reward_scaling": 10.0, "normalize_observations": True}


def _resolve(algo: str, task: str = "playground/CartpoleBalance", **overrides):
    return resolve_config(get_algorithm(algo), get_task(task), {"preset": "brax_dmc", **overrides})


def test_env_and_gradient_steps_per_update_are_braxs():
    cfg = _resolve("ppo")
    p = PLAYGROUND_DMC
    # Brax train.py: env_step_per_training_step = batch_size * unroll_length * num_minibatches * action_repeat;
    # each env runs batch_size * num_minibatches / num_envs unrolls; num_updates_per_batch x num_minibatches SGD steps.
    assert brax_dmc_structure(cfg) == {
        "env_steps_per_update": p["batch_size"] * p["unroll_length"] * p["num_minibatches"],
        "gradient_steps_per_update": p["num_updates_per_batch"] * p["num_minibatches"],
        "minibatch_samples": p["batch_size"] * p["unroll_length"],
    }
    assert brax_dmc_structure(cfg)["env_steps_per_update"] == 983_040
    assert brax_dmc_structure(cfg)["gradient_steps_per_update"] == 512
    assert cfg.num_envs == p["num_envs"]
    assert cfg.num_steps == p["unroll_length"] * p["batch_size"] * p["num_minibatches"] // p["num_envs"] == 480
    assert cfg.gae_horizon == p["unroll_length"]


def test_preset_matches_braxs_loss_settings():
    cfg = _resolve("ppo")
    p = PLAYGROUND_DMC
    assert (cfg.gamma, cfg.lr, cfg.entropy_coef, cfg.reward_scale) == (
        p["discounting"], p["learning_rate"], p["entropy_cost"], p["reward_scaling"])
    assert cfg.obs_norm is p["normalize_observations"]
    # Brax defaults: clip 0.3, lambda 0.95, 0.5 * vf_loss_coefficient 0.5, no adaptive KL, no value or
    # gradient clipping, per-minibatch advantage normalisation; make_ppo_networks defaults.
    assert (cfg.clip, cfg.lam, cfg.value_coef) == (0.3, 0.95, 0.25)
    assert (cfg.schedule, cfg.clipped_value_loss, cfg.grad_clip, cfg.adv_norm) == ("fixed", False, "none", "minibatch")
    assert cfg.advantage == "brax"
    assert (cfg.policy_dist, cfg.actor_hidden, cfg.critic_hidden) == ("tanh_normal", (32,) * 4, (256,) * 5)
    assert (cfg.activation, cfg.weight_init, cfg.obs_norm_update) == ("swish", "lecun_uniform", "before")


def test_preset_matches_installed_playground_config():
    dmc = pytest.importorskip("mujoco_playground.config.dm_control_suite_params")
    rl = dmc.brax_ppo_config("CartpoleBalance")
    for key, value in PLAYGROUND_DMC.items():
        assert rl[key] == value, key
    assert rl.action_repeat == 1 and rl.num_resets_per_eval == 10 and "max_grad_norm" not in rl


def test_cppo_runs_the_same_outer_loop():
    ppo, cppo = _resolve("ppo"), _resolve("cppo")
    for key in BRAX_DMC_LOOP:
        if key != "entropy_coef":  # CPPO's entropy is its kernel's (README): its own weight
            assert getattr(cppo, key) == getattr(ppo, key), key
    assert brax_dmc_structure(cppo) == brax_dmc_structure(ppo)


def test_playground_dmc_spec_selects_the_preset_with_per_task_gamma():
    spec = load_spec(ROOT / "configs" / "playground_dmc.toml")
    for algo in ("ppo", "cppo"):
        for task, gamma in (("playground/CheetahRun", 0.995), ("playground/BallInCup", 0.95)):
            cfg = resolve_config(get_algorithm(algo), get_task(task), _overrides(spec, algo, task))
            assert brax_dmc_structure(cfg)["env_steps_per_update"] == 983_040
            assert cfg.gamma == gamma
    # budgets: 90 updates (num_timesteps 60 M) or 180 (100 M) of 983,040 env steps, Brax's own count.
    for task, t in spec.tasks.items():
        assert t["env_steps"] in (90 * 983_040, 180 * 983_040), task
        assert t["env_steps"] // t["eval_every"] == 9 and t["env_steps"] % t["eval_every"] == 0


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError, match="allowed: brax_dmc"):
        resolve_config(get_algorithm("ppo"), get_task("toy/MultiGoal"), {"preset": "brax"})


def test_new_fields_at_legacy_values_keep_old_hashes():
    for algo, overrides in (("ppo", {}), ("cppo", {"preset": "cppo_v1"})):  # CPPO's defaults before issue 13
        cfg = resolve_config(get_algorithm(algo), get_task("playground/CartpoleBalance"), overrides)
        legacy = type(cfg).LEGACY_DEFAULTS
        assert {"grad_clip", "gae_horizon", "advantage"} <= set(legacy)
        before = {k: v for k, v in config_to_json(cfg).items() if k not in legacy}
        assert run_config_hash(cfg) == config_hash(before)
        assert run_config_hash(dataclasses.replace(cfg, grad_clip="separate")) != run_config_hash(cfg)
    stored = ROOT / "results/ablation_cppo_playground/playground/CartpoleBalance/ppo/seed_0/manifest.json"
    if stored.exists():  # a record made before these fields existed still matches its config
        m = json.loads(stored.read_text())
        assert run_config_hash(get_algorithm("ppo").config_cls(**{
            k: tuple(v) if isinstance(v, list) else v for k, v in m["config"].items()})) == m["config_hash"]


class _Host(RolloutMixin):
    """The minimum ``RolloutMixin._advantages`` reads: a config, a buffer, V and the normaliser."""

    def __init__(self, cfg, buffer):
        self.cfg, self.buffer = cfg, buffer

    def _norm(self, obs):
        return obs

    def _value(self, obs):
        return obs[..., 0] * 0.5 + 1.0


def test_segment_gae_bootstraps_at_every_segment_end():
    T, N, k, gamma, lam = 6, 2, 3, 0.9, 0.8
    g = torch.Generator().manual_seed(0)
    obs = torch.randn(T, N, 1, generator=g)
    nxt = torch.cat([obs[1:], torch.randn(1, N, 1, generator=g)])
    b = {"obs": obs, "next_obs": nxt, "rewards": torch.randn(T, N, generator=g),
         "terminated": torch.zeros(T, N, dtype=torch.bool), "truncated": torch.zeros(T, N, dtype=torch.bool),
         "final_valid": torch.ones(T, N)}
    cfg = PPOLoopConfig(num_steps=T, gamma=gamma, lam=lam, gae_horizon=k)
    host = _Host(cfg, b)
    _, adv, _ = host._advantages()
    v, nv = host._value(obs), host._value(nxt)
    delta = b["rewards"] + gamma * nv - v
    for t in range(T):
        end = (t // k + 1) * k  # the segment's end (exclusive): no credit from the next segment
        expect = sum((gamma * lam) ** (j - t) * delta[j] for j in range(t, end))
        assert torch.allclose(adv[t], expect, atol=1e-5), t
    _, whole, _ = _Host(dataclasses.replace(cfg, gae_horizon=0), b)._advantages()
    assert not torch.allclose(whole[0], adv[0])  # the cut changes the first segment's advantages
    # Brax's policy advantage: r_t + gamma vs_{t+1} - V_t with vs = V + GAE, vs_{t+1} = V at a segment end
    _, brax, returns = _Host(dataclasses.replace(cfg, advantage="brax"), b)._advantages()
    vs = v + adv
    assert torch.allclose(returns, vs)
    for t in range(T):
        vs_next = nv[t] if t % k == k - 1 else vs[t + 1]
        assert torch.allclose(brax[t], b["rewards"][t] + gamma * vs_next - v[t], atol=1e-5), t
    assert not torch.allclose(brax[0], adv[0])


def _toy_agent(**overrides):
    algo, task = get_algorithm("ppo"), get_task("toy/MultiGoal")
    cfg = resolve_config(algo, task, overrides)
    from harness.seeding import RunSeeds

    env = task.factory(8, 0, "cpu")
    return algo.factory(cfg, env.spec, RunSeeds.derive(0, task.name, "ppo"), "cpu"), env


def test_tanh_normal_acts_in_bounds_and_deterministic_is_tanh_of_mean():
    agent, env = _toy_agent(policy_dist="tanh_normal", weight_init="lecun_uniform")
    obs = env.reset() * 50.0
    a, extras = agent.act(obs)
    assert torch.all(a.abs() < 1.0) and torch.allclose(a, torch.tanh(extras["raw_actions"]))
    mean, _ = agent.net.dist_params(agent._norm(obs))
    assert torch.equal(agent.eval_act(obs, "deterministic", torch.Generator()), torch.tanh(mean))
    assert not hasattr(agent.net, "log_std")


def test_tanh_entropy_estimate_is_unbiased():
    """Brax's one-sample estimate, averaged, equals the entropy of tanh(N(m, s)) by quadrature."""
    agent, _ = _toy_agent(policy_dist="tanh_normal")
    m, s = 0.7, 1.3
    est = agent._tanh_entropy(torch.full((200_000, 1), m), torch.full((200_000, 1), s)).mean().item()
    x = torch.linspace(m - 10 * s, m + 10 * s, 200_001, dtype=torch.float64)
    px = torch.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))
    log_py = torch.log(px) - torch.log1p(-torch.tanh(x) ** 2)  # density of y = tanh(x)
    exact = float(torch.trapezoid(-px * log_py, x))
    assert abs(est - exact) < 0.01
    assert exact < 0.5 * math.log(2 * math.pi * math.e * s * s)  # the squash lowers the entropy


@pytest.mark.parametrize("mode", ["joint", "separate", "none"])
def test_gradient_clipping_modes(mode):
    agent, env = _toy_agent(grad_clip=mode, max_grad_norm=1e-4, epochs=1, minibatches=1, num_steps=8)
    norms: list[list[float]] = []
    step = agent.optimizer.step

    def record(*a, **k):
        norms.append([float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in grp["params"]])))
                      for grp in agent.optimizer.param_groups])
        return step(*a, **k)

    agent.optimizer.step = record
    obs = env.reset()
    from harness.agent import Transition

    while not agent.ready():
        a, extras = agent.act(obs)
        nxt, r, term, trunc, info = env.step(a)
        agent.observe(Transition(obs=obs, action=a, reward=r, next_obs=nxt, terminated=term, truncated=trunc,
                                 extras=extras, carry_obs=nxt, final_obs_valid=True))
        obs = nxt
    agent.update()
    (got,) = norms
    if mode == "separate":
        assert len(got) == 2 and all(math.isclose(n, 1e-4, rel_tol=1e-3) for n in got)
    elif mode == "joint":
        assert len(got) == 1 and math.isclose(got[0], 1e-4, rel_tol=1e-3)
    else:
        assert len(got) == 1 and got[0] > 1e-2
