"""DACER unit tests: schedule and posterior closed forms, backprop through the chain, mixture entropy,
alpha direction, time-limit handling. Fast (CPU, tiny nets)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from baselines.dacer.agent import DACERAgent
from baselines.dacer.config import DACERConfig
from baselines.dacer.losses import alpha_loss, distributional_critic_loss, fit_gmm, gmm_entropy, td_targets
from baselines.dacer.networks import DiffusionActor
from harness.agent import Transition
from harness.env import EnvSpec
from harness.seeding import RunSeeds

torch.set_num_threads(1)

TINY = DACERConfig(num_envs=4, batch_size=16, warmup_steps=8, actor_hidden=(16, 16), critic_hidden=(16, 16),
                   entropy_samples=20, entropy_states=4, delay_alpha_update=1000)


def make_agent(cfg: DACERConfig = TINY, obs_dim: int = 3, act_dim: int = 2) -> DACERAgent:
    spec = EnvSpec(obs_dim=obs_dim, action_dim=act_dim, num_envs=cfg.num_envs, episode_length=10, dt=1.0, device="cpu")
    return DACERAgent(cfg, spec, RunSeeds.derive(0, "test/Task", "dacer"), "cpu")


# -- schedule and posterior ---------------------------------------------------------------------------
def test_vp_schedule_and_posterior_match_closed_forms():
    T, b_min, b_max = 20, 0.1, 10.0
    actor = DiffusionActor(2, 1, DACERConfig(), torch.device("cpu"))
    d = actor.diffusion
    t = np.arange(1, T + 1)
    alpha = np.exp(-b_min / T - 0.5 * (b_max - b_min) * (2 * t - 1) / T**2)
    np.testing.assert_allclose(d.alphas.double().numpy(), alpha, rtol=1e-6)
    ab = np.cumprod(alpha)
    np.testing.assert_allclose(d.alphas_cumprod.double().numpy(), ab, rtol=1e-5)
    # Posterior q(x_{t-1} | x_t, x0) by completing the square of
    # N(x_t; sqrt(a_t) x, 1 - a_t) * N(x; sqrt(ab_{t-1}) x0, 1 - ab_{t-1}).
    rng = np.random.default_rng(0)
    x0, xt = rng.normal(size=(T, 1)), rng.normal(size=(T, 1))
    ab_prev = np.concatenate([[1.0], ab[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = alpha / (1 - alpha) + 1 / (1 - ab_prev)
        var = 1 / prec
        mean = var * (np.sqrt(alpha) * xt[:, 0] / (1 - alpha) + np.sqrt(ab_prev) * x0[:, 0] / (1 - ab_prev))
    var[0], mean[0] = 0.0, x0[0, 0]  # t = 1: ab_prev = 1, the posterior is a point mass at x0
    m, v, _ = d.posterior(torch.tensor(x0, dtype=torch.float32), torch.tensor(xt, dtype=torch.float32),
                          torch.arange(T))
    np.testing.assert_allclose(m[:, 0].double().numpy(), mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(v[:, 0].double().numpy(), var[:], rtol=1e-4, atol=1e-9)


def test_fast_chain_equals_harness_sampler():
    """The unrolled chain draws the same noise and computes the same maths as GaussianDiffusion.p_sample_loop."""
    torch.manual_seed(0)
    actor = DiffusionActor(3, 2, dataclasses.replace(TINY, diffusion_steps=20), torch.device("cpu"))
    obs = torch.randn(7, 3)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    ours = actor.chain(obs, g1)
    ref = actor.diffusion.p_sample_loop(lambda x, t: actor.eps(obs, x, t), (7, 2), g2, clip=1.0)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


# -- actor -----------------------------------------------------------------------------------------
def test_actor_gradient_reaches_first_denoising_step():
    agent = make_agent()
    # At t = T the predicted x0 = 12.5 (x_T - eps) is clipped to [-1, 1] for most samples (zero
    # gradient there, as upstream); a batch of 256 leaves enough unclipped samples.
    obs = torch.randn(256, 3)
    outputs = {}
    step_of = agent.actor.eps.conditioned

    def recording(obs_, T):
        inner = step_of(obs_, T)

        def step(x, i):
            out = inner(x, i)
            out.retain_grad()
            outputs[i] = out
            return out

        return step

    agent.actor.eps.conditioned = recording
    action = agent.actor.sample(obs, agent.alpha, torch.Generator().manual_seed(0))
    q_mean, _ = agent.critic(obs, action)
    (-torch.minimum(q_mean[0], q_mean[1]).mean()).backward()
    T = agent.cfg.diffusion_steps
    assert sorted(outputs) == list(range(T))
    first = outputs[T - 1].grad  # the first denoising step (from x_T)
    assert first is not None and (first != 0).any()
    assert all((outputs[i].grad != 0).any() for i in range(T))
    assert agent.log_alpha.grad is None  # alpha is not differentiated by the actor loss


# -- entropy regulator -------------------------------------------------------------------------------
def test_mixture_entropy_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    w = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    mu = torch.tensor([[-0.6, -0.5], [0.6, 0.0], [0.0, 0.7]], dtype=torch.float64)
    cov = torch.stack([torch.tensor([[0.010, 0.004], [0.004, 0.020]]), torch.tensor([[0.020, 0.0], [0.0, 0.005]]),
                       torch.tensor([[0.008, -0.003], [-0.003, 0.010]])]).double()
    chol = torch.linalg.cholesky(cov)

    def draw(n_states: int, n: int) -> torch.Tensor:
        comp = torch.multinomial(w.expand(n_states, 3), n, replacement=True, generator=g)
        z = torch.randn(n_states, n, 2, generator=g, dtype=torch.float64)
        return mu[comp] + (chol[comp] @ z[..., None])[..., 0]

    # Monte-Carlo reference: -E[log p(x)] under the true mixture.
    x = draw(1, 200_000)[0]
    diff = x[:, None] - mu[None]
    sol = torch.linalg.solve_triangular(chol[None], diff[..., None], upper=False)[..., 0]
    logp = (torch.log(w) - 0.5 * sol.pow(2).sum(-1) - torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
            - math.log(2 * math.pi))
    h_mc = float(-torch.logsumexp(logp, -1).mean())
    # Our estimate: 3-component EM on 200 samples per state, averaged over 64 states (as in DACER).
    weights, _, covs = fit_gmm(draw(64, 200), 3, g)
    h_est = float(gmm_entropy(weights, covs).mean())
    assert abs(h_est - h_mc) <= 0.05 * abs(h_mc), (h_est, h_mc)


def test_gmm_entropy_of_single_gaussian_is_closed_form():
    cov = torch.tensor([[[[0.3, 0.1], [0.1, 0.2]]] * 3], dtype=torch.float64)
    h = gmm_entropy(torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64), cov)
    expected = 0.5 * 2 * (1 + math.log(2 * math.pi)) + 0.5 * math.log(0.3 * 0.2 - 0.01)
    assert abs(float(h) - expected) < 1e-9


@pytest.mark.parametrize("entropy, direction", [(1.0, -1), (-5.0, +1)])
def test_alpha_moves_toward_target_entropy(entropy, direction):
    agent = make_agent()
    before = float(agent.log_alpha.detach())
    agent.alpha_opt.zero_grad()
    alpha_loss(agent.log_alpha, torch.tensor(entropy), agent.target_entropy).backward()  # target -1.8
    agent.alpha_opt.step()
    assert math.copysign(1, float(agent.log_alpha.detach()) - before) == direction
    assert abs(float(agent.log_alpha.detach()) - before) == pytest.approx(agent.cfg.alpha_lr, rel=1e-3)


def test_agent_alpha_step_uses_estimated_entropy():
    """A full gradient step at a regulator step moves alpha opposite to (entropy - target)."""
    agent = make_agent(dataclasses.replace(TINY, delay_alpha_update=1))
    fill(agent, 8)
    before = float(agent.log_alpha.detach())
    agent.update()
    sign = math.copysign(1.0, float(agent.entropy) - agent.target_entropy)
    assert (float(agent.log_alpha.detach()) - before) * sign < 0


# -- critic and time limits --------------------------------------------------------------------------
def test_terminated_vs_truncated_target():
    r = torch.tensor([1.0, 1.0, 1.0])
    next_mean = torch.tensor([[2.0, 2.0, 2.0], [3.0, 3.0, 3.0]])
    next_std = torch.ones(2, 3)
    z = torch.zeros(2, 3)
    term = torch.tensor([False, True, False])  # env 2 is a time-out: it must bootstrap like env 0
    backup, sample = td_targets(r, term, next_mean, next_std, z, gamma=0.5)
    torch.testing.assert_close(backup, torch.tensor([2.0, 1.0, 2.0]))
    torch.testing.assert_close(sample, torch.tensor([2.0, 1.0, 2.0]))


def fill(agent: DACERAgent, steps: int, truncate_every: int = 0, terminate_every: int = 0) -> None:
    N = agent.num_envs
    g = torch.Generator().manual_seed(1)
    for k in range(steps):
        obs = torch.randn(N, agent.spec.obs_dim, generator=g)
        a, _ = agent.act(obs)
        trunc = torch.full((N,), truncate_every > 0 and k % truncate_every == 0)
        term = torch.full((N,), terminate_every > 0 and k % terminate_every == 0)
        agent.observe(Transition(obs, a, torch.ones(N), obs + 1, obs, term, trunc, True, {}))


def test_agent_critic_targets_respect_terminated_only():
    agent = make_agent()
    fill(agent, 4)
    batch = agent.buffer.sample(16, torch.Generator().manual_seed(0))
    batch["terminated"] = torch.zeros(16, dtype=torch.bool)
    agent.gen.manual_seed(3)
    live, _ = agent.critic_step_targets(batch)
    trunc = dict(batch, truncated=torch.ones(16, dtype=torch.bool))
    agent.gen.manual_seed(3)
    truncated, _ = agent.critic_step_targets(trunc)
    term = dict(batch, terminated=torch.ones(16, dtype=torch.bool))
    agent.gen.manual_seed(3)
    terminal, _ = agent.critic_step_targets(term)
    torch.testing.assert_close(truncated, live)  # time-outs bootstrap
    torch.testing.assert_close(terminal, batch["rewards"] * agent.cfg.reward_scale)  # terminal: reward only


def test_distributional_loss_gradients_point_to_target():
    mean = torch.zeros(2, 4, requires_grad=True)
    std = torch.ones(2, 4, requires_grad=True)
    loss = distributional_critic_loss(mean, std, torch.full((4,), 2.0), torch.full((4,), 10.0), torch.ones(2))
    loss.backward()
    assert (mean.grad < 0).all()  # gradient descent raises the mean toward the target 2
    assert (std.grad < 0).all()  # the clipped sampled error (3) exceeds std (1): std grows


# -- the agent end to end --------------------------------------------------------------------------
def test_update_metrics_and_resume_roundtrip():
    agent = make_agent(dataclasses.replace(TINY, updates_per_step=3))
    assert not agent.ready()
    fill(agent, 4, truncate_every=2)
    assert agent.ready()
    m = agent.update()
    assert m["gradient_steps"] == 3 and m["gradient_steps_per_vector_step"] == 3
    assert m["sample_reuse"] == pytest.approx(3 * 16 / 4)
    assert all(math.isfinite(v) for v in m.values())
    state = agent.state_dict()
    other = make_agent(dataclasses.replace(TINY, updates_per_step=3))
    other.load_state_dict(state)
    obs = torch.randn(5, 3)
    a1 = agent.eval_act(obs, "stochastic", torch.Generator().manual_seed(9))
    a2 = other.eval_act(obs, "stochastic", torch.Generator().manual_seed(9))
    torch.testing.assert_close(a1, a2)
    torch.testing.assert_close(agent.update()["critic_loss"], other.update()["critic_loss"])


def test_eval_modes_use_the_given_generator_and_leave_training_state():
    agent = make_agent()
    fill(agent, 4)
    state = agent.gen.get_state()
    obs = torch.randn(6, 3)
    d1 = agent.eval_act(obs, "deterministic", torch.Generator().manual_seed(2))
    d2 = agent.eval_act(obs, "deterministic", torch.Generator().manual_seed(2))
    s1 = agent.eval_act(obs, "stochastic", torch.Generator().manual_seed(2))
    torch.testing.assert_close(d1, d2)
    assert not torch.equal(d1, s1)  # the stochastic mode adds the alpha noise
    assert torch.equal(agent.gen.get_state(), state)
    assert (d1.abs() <= 1).all() and (s1.abs() <= 1).all()
