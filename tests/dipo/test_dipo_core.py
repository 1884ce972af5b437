"""DIPO unit tests: schedule, action gradient, diffusion-memory write-back, TD target, BC loss, agent
contract (generators, checkpoint, presets, one short run through the runner)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from baselines.dipo.agent import DIPOAgent
from baselines.dipo.config import DIPOConfig, resolved
from baselines.dipo.losses import action_gradient, td_target
from baselines.dipo.networks import DiffusionPolicy
from harness.agent import Transition
from harness.env import EnvSpec
from harness.seeding import RunSeeds

SPEC = EnvSpec(obs_dim=3, action_dim=2, num_envs=4, episode_length=20, dt=1.0, device="cpu")
SMALL = DIPOConfig(diffusion_steps=5, hidden=32, time_dim=8, batch_size=16, gradient_steps=1, warmup_steps=0,
                   buffer_size=400)


def _agent(cfg: DIPOConfig = SMALL, seed: int = 0) -> DIPOAgent:
    return DIPOAgent(cfg, SPEC, RunSeeds.derive(seed, "test/Task", "dipo"), "cpu")


def _fill(agent: DIPOAgent, steps: int = 10, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    N, S, A = SPEC.num_envs, SPEC.obs_dim, SPEC.action_dim
    for _ in range(steps):
        obs = torch.randn(N, S, generator=g)
        act = torch.rand(N, A, generator=g) * 2 - 1
        agent.observe(Transition(obs, act, torch.randn(N, generator=g), torch.randn(N, S, generator=g), obs,
                                 torch.zeros(N, dtype=torch.bool), torch.zeros(N, dtype=torch.bool), True, {}))


# -- schedule -------------------------------------------------------------------------------------
def test_cosine_schedule_equals_closed_form():
    """betas_t = min(1 - abar(t)/abar(t-1), 0.999), abar(x) = cos^2(((x/T)+s)/(1+s) pi/2), computed in
    plain Python, and upstream's numpy convention (linspace(0, T+1, T+1) / (T+1))."""
    T, s = 100, 0.008
    abar = [math.cos(((x / T) + s) / (1 + s) * math.pi / 2) ** 2 for x in range(T + 1)]
    closed = [min(1 - abar[t] / abar[t - 1], 0.999) for t in range(1, T + 1)]
    steps = T + 1
    x = np.linspace(0, steps, steps)
    ab = np.cos(((x / steps) + s) / (1 + s) * np.pi * 0.5) ** 2
    upstream_style = np.clip(1 - ab[1:] / ab[:-1], 0, 0.999)
    pol = DiffusionPolicy(3, 2, T, 16, 8, "mish", "cpu")
    betas = pol.diffusion.betas.double()
    assert betas.shape == (T,)
    np.testing.assert_allclose(betas.numpy(), closed, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(betas.numpy(), upstream_style, rtol=1e-5, atol=1e-7)
    assert closed[-1] == 0.999  # the last step is clipped
    ac = np.cumprod([1 - b for b in closed])
    np.testing.assert_allclose(pol.diffusion.alphas_cumprod.double().numpy(), ac, rtol=1e-4, atol=1e-7)


# -- action gradient ------------------------------------------------------------------------------
def _quadratic(target: torch.Tensor):
    return lambda a: -(a - target).pow(2).sum(-1)


def test_action_gradient_moves_toward_quadratic_max_and_respects_clip_and_norm():
    g = torch.Generator().manual_seed(0)
    B = 64
    target = torch.tensor([0.5, -0.3]).repeat(B, 1)
    target[B // 2 :] = torch.tensor([2.0, -0.7])  # outside the box in dim 0: stops at the clip
    a0 = torch.rand(B, 2, generator=g) * 2 - 1
    feasible = target.clamp(-1, 1)
    bound = 2 * 0.1  # act_dim x ratio
    a, stats = action_gradient(_quadratic(target), a0, steps=20, lr=0.03, max_grad_norm=bound)
    assert (a.abs() <= 1.0).all()
    d0 = (a0 - feasible).norm(dim=-1)
    d1 = (a - feasible).norm(dim=-1)
    assert (d1 <= d0 + 1e-6).all() and d1.mean() < 0.6 * d0.mean()
    # the gradient of the whole [B, A] tensor is clipped to act_dim * ratio (it was larger)
    assert stats["action_grad_norm"] > bound
    assert stats["action_grad_norm_clipped_max"] <= bound * (1 + 1e-4)
    # Adam: each coordinate moves by at most lr per step (exactly lr at the first step)
    a1, _ = action_gradient(_quadratic(target), a0, steps=1, lr=0.03, max_grad_norm=bound)
    assert ((a1 - a0).abs() <= 0.03 + 1e-6).all()
    # long run converges to the clipped maximiser
    a_long, _ = action_gradient(_quadratic(target), a0, steps=150, lr=0.03, max_grad_norm=bound)
    torch.testing.assert_close(a_long, feasible, atol=0.03, rtol=0)
    assert (a_long[B // 2 :, 0] == 1.0).all()


def test_action_gradient_leaves_critic_gradients_untouched():
    lin = torch.nn.Linear(2, 1)
    a, _ = action_gradient(lambda x: lin(x).squeeze(-1), torch.zeros(8, 2), steps=3, lr=0.03, max_grad_norm=0.2)
    assert all(p.grad is None for p in lin.parameters())
    assert not a.requires_grad


def test_improved_actions_are_written_back_to_their_rows():
    agent = _agent()
    _fill(agent)
    before = agent.buffer.data["best_actions"].clone()
    executed = agent.buffer.data["actions"].clone()
    index, _, improved, _ = agent.improve_actions()
    after = agent.buffer.data["best_actions"]
    env, slot = index
    torch.testing.assert_close(after[env, slot], improved)
    assert not torch.allclose(after[env, slot], before[env, slot])  # they did move
    mask = torch.ones_like(after[..., 0], dtype=torch.bool)
    mask[env, slot] = False
    torch.testing.assert_close(after[mask], before[mask])  # other rows untouched
    torch.testing.assert_close(agent.buffer.data["actions"], executed)  # replay actions untouched


# -- TD target ------------------------------------------------------------------------------------
def test_terminated_vs_truncated_td_target():
    r = torch.tensor([1.0, 1.0, 1.0])
    q = torch.tensor([10.0, 10.0, 10.0])
    term = torch.tensor([False, True, False])
    trunc = torch.tensor([False, False, True])
    y = td_target(r, q, term, trunc, 0.9, "bootstrap")
    torch.testing.assert_close(y, torch.tensor([10.0, 1.0, 10.0]))  # time-out bootstraps, terminal does not
    y_up = td_target(r, q, term, trunc, 0.9, "terminal")
    torch.testing.assert_close(y_up, torch.tensor([10.0, 1.0, 1.0]))  # upstream: mask = 0 if done
    with pytest.raises(ValueError):
        td_target(r, q, term, trunc, 0.9, "other")


def test_agent_keeps_terminated_and_truncated_apart_in_its_critic_target():
    """With a zero-reward buffer and a constant target critic, the agent's TD target is gamma*c on
    truncated rows and 0 on terminated rows."""
    agent = _agent(SMALL)
    N, S, A = SPEC.num_envs, SPEC.obs_dim, SPEC.action_dim
    term = torch.tensor([True, False, False, False])
    trunc = torch.tensor([False, True, False, False])
    obs = torch.zeros(N, S)
    agent.observe(Transition(obs, torch.zeros(N, A), torch.zeros(N), obs, obs, term, trunc, True, {}))
    for m in (agent.critic_target.q1, agent.critic_target.q2):
        torch.nn.init.zeros_(m[-1].weight)
        torch.nn.init.constant_(m[-1].bias, 5.0)
    batch = {k: v[:, 0] for k, v in agent.buffer.data.items()}
    seen = {}
    from baselines.dipo import agent as agent_mod

    real = agent_mod.critic_loss
    agent_mod.critic_loss = lambda q1, q2, y: seen.setdefault("y", y) is not None and real(q1, q2, y)
    try:
        agent.critic_step(batch)
    finally:
        agent_mod.critic_loss = real
    torch.testing.assert_close(seen["y"], torch.tensor([0.0, 0.99 * 5.0, 0.99 * 5.0, 0.99 * 5.0]))


# -- behaviour cloning ----------------------------------------------------------------------------
def test_bc_loss_decreases_on_fixed_batch():
    torch.manual_seed(0)
    pol = DiffusionPolicy(3, 2, 20, 32, 16, "mish", "cpu")
    g = torch.Generator().manual_seed(0)
    obs = torch.randn(64, 3, generator=g)
    act = torch.tanh(obs[:, :2] * 2)

    def eval_loss() -> float:
        ge = torch.Generator().manual_seed(123)
        with torch.no_grad():
            return sum(float(pol.bc_loss(obs, act, ge)) for _ in range(4)) / 4

    before = eval_loss()
    opt = torch.optim.Adam(pol.parameters(), lr=3e-3, eps=1e-5)
    gt = torch.Generator().manual_seed(1)
    for _ in range(60):
        loss = pol.bc_loss(obs, act, gt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = eval_loss()
    assert after < 0.6 * before, (before, after)


# -- agent contract -------------------------------------------------------------------------------
def test_presets_resolve():
    up = resolved(DIPOConfig(), 32)
    assert (up.batch_size, up.gradient_steps, up.warmup_steps, up.obs_norm) == (256, 32, 10_000, False)
    assert up.sample_reuse(32) == 256.0
    par = resolved(DIPOConfig(preset="parallel"), 4096)
    assert (par.batch_size, par.gradient_steps, par.obs_norm) == (8192, 4, True)
    assert resolved(DIPOConfig(preset="parallel", batch_size=100), 10).batch_size == 100
    with pytest.raises(ValueError):
        DIPOConfig(batch_size=0).validate()


def test_eval_sampling_uses_its_generator_and_leaves_training_state():
    agent = _agent()
    _fill(agent, 3)
    state = agent.gen.get_state().clone()
    obs = torch.randn(5, SPEC.obs_dim)
    a1 = agent.eval_act(obs, "deterministic", torch.Generator().manual_seed(7))
    a2 = agent.eval_act(obs, "deterministic", torch.Generator().manual_seed(7))
    s1 = agent.eval_act(obs, "stochastic", torch.Generator().manual_seed(7))
    torch.testing.assert_close(a1, a2)
    assert not torch.allclose(a1, s1)  # noise_ratio 0 vs 1
    assert (a1.abs() <= 1).all() and (s1.abs() <= 1).all()
    assert torch.equal(agent.gen.get_state(), state)


def test_warmup_uses_uniform_actions_only_in_training():
    agent = _agent(DIPOConfig(**{**SMALL.__dict__, "warmup_steps": 100}))
    assert not agent.ready()
    obs = torch.zeros(SPEC.num_envs, SPEC.obs_dim)
    a_train, _ = agent.act(obs)
    a_eval = agent.eval_act(obs, "stochastic", torch.Generator().manual_seed(0))
    ref = agent.actor.sample(obs, torch.Generator().manual_seed(0), 1.0)
    torch.testing.assert_close(a_eval, ref)
    assert (a_train.abs() <= 1).all() and not torch.allclose(a_train, ref)
    _fill(agent, 25)
    assert agent.ready()


def test_update_metrics_and_checkpoint_roundtrip():
    agent = _agent()
    _fill(agent)
    m = agent.update()
    for k in ("critic_loss", "bc_loss", "q_mean", "action_shift", "gradient_steps", "gradient_steps_per_vector_step",
              "sample_reuse"):
        assert math.isfinite(m[k]), k
    assert m["sample_reuse"] == 1 * 16 / 4
    other = _agent(seed=5)
    other.load_state_dict(agent.state_dict())
    obs = torch.randn(3, SPEC.obs_dim)
    x = agent.eval_act(obs, "deterministic", torch.Generator().manual_seed(1))
    y = other.eval_act(obs, "deterministic", torch.Generator().manual_seed(1))
    torch.testing.assert_close(x, y)
    torch.testing.assert_close(other.buffer.data["best_actions"], agent.buffer.data["best_actions"])
    torch.testing.assert_close(agent.update()["critic_loss"], other.update()["critic_loss"])


def test_short_run_through_the_runner(tmp_path):
    from harness import records
    from harness.runner import RunSpec, run

    spec = RunSpec(algo="dipo", task="toy/Target1D", seed=0, out=str(tmp_path), env_steps=320, eval_every=160,
                   eval_episodes=2, num_envs=4, progress_every=0,
                   overrides={"diffusion_steps": 3, "hidden": 32, "batch_size": 16, "warmup_steps": 160,
                              "gradient_steps": 1})
    res = run(spec)
    assert res.status == "complete"
    rows = records.read_train_log(res.path)
    assert rows and all(r["gradient_steps_per_vector_step"] == 1.0 for r in rows)
    # updates start once warm-up is reached (upstream: ``steps >= start_steps``), one per vector step
    assert records.read_manifest(res.path)["updates"] == (320 - 160) // 4 + 1
