"""DPPO unit checks: the chain log-probability against step Gaussians computed by hand, the per-step
clip and discount, the samplers, the frozen base steps, first-minibatch ratio 1."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from baselines.dppo.agent import DPPOAgent
from baselines.dppo.config import TUNED, DPPOConfig
from baselines.dppo.losses import chain_log_prob, denoising_clip_coefs, denoising_discounts, dppo_policy_loss
from baselines.dppo.networks import DenoisingChain
from harness.agent import Transition
from harness.env import EnvSpec
from harness.nn import seeded_init
from harness.registry import list_algorithms
from harness.seeding import RunSeeds

torch.set_num_threads(1)


def _cfg(**kw) -> DPPOConfig:
    return dataclasses.replace(DPPOConfig(), **{**TUNED["preset:toy"], **kw})


def _gauss_logpdf(x: float, mean: float, std: float) -> float:
    return -0.5 * ((x - mean) / std) ** 2 - math.log(std) - 0.5 * math.log(2 * math.pi)


def _cosine_tables(T: int, s: float = 0.008):
    f = lambda x: math.cos((x / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    ab = [f(x) / f(0) for x in range(T + 1)]
    betas = [min(1 - ab[i + 1] / ab[i], 0.999) for i in range(T)]
    ac, prod = [], 1.0
    for b in betas:
        prod *= 1 - b
        ac.append(prod)
    return betas, ac


@pytest.mark.parametrize("eps_const", [0.0, 0.4])
def test_chain_log_prob_is_the_sum_of_hand_computed_step_gaussians(eps_const):
    """K = 2, one state, A = 2, a denoiser that outputs the constant eps_const: every quantity by hand."""
    cfg = _cfg(denoising_steps=2, ft_denoising_steps=2, min_logprob_denoising_std=0.1)
    with seeded_init(0):
        chain_net = DenoisingChain(3, 2, cfg, torch.device("cpu"))
    last = chain_net.actor.net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(eps_const)
    chain = torch.tensor([[[0.3, -1.4], [-0.2, 0.9], [0.5, 0.05]]])  # x_2, x_1, x_0
    obs = torch.randn(1, 3)
    lp = chain_net.step_log_probs(obs, chain)
    betas, ac = _cosine_tables(2)
    total = 0.0
    for j, t in enumerate([1, 0]):
        ac_prev = ac[t - 1] if t > 0 else 1.0
        var = betas[t] * (1 - ac_prev) / (1 - ac[t])
        c1 = betas[t] * math.sqrt(ac_prev) / (1 - ac[t])
        c2 = (1 - ac_prev) * math.sqrt(1 - betas[t]) / (1 - ac[t])
        std = max(math.sqrt(var), 0.1)
        for d in range(2):
            x_t, x_next = chain[0, j, d].item(), chain[0, j + 1, d].item()
            x0 = math.sqrt(1 / ac[t]) * x_t - math.sqrt(1 / ac[t] - 1) * eps_const
            x0 = max(-1.0, min(1.0, x0))
            step = _gauss_logpdf(x_next, c1 * x0 + c2 * x_t, std)
            assert math.isclose(lp[0, j, d].item(), step, abs_tol=1e-5)
            total += step
    assert math.isclose(chain_log_prob(lp).item(), total, abs_tol=1e-4)


def test_per_step_clip_and_discount_by_hand():
    c = denoising_clip_coefs(3, 0.1, 0.001, 3.0)
    mid = 0.001 + (0.1 - 0.001) * (math.exp(1.5) - 1) / (math.exp(3.0) - 1)
    torch.testing.assert_close(c, torch.tensor([0.001, mid, 0.1]))
    torch.testing.assert_close(denoising_clip_coefs(1, 0.2, 0.001, 3.0), torch.tensor([0.2]))
    torch.testing.assert_close(denoising_discounts(3, 0.9), torch.tensor([0.81, 0.9, 1.0]))
    # the loss clips each step with its own coefficient: ratio 1.5 with positive advantage
    new = torch.log(torch.full((1, 3), 1.5))
    loss, ratio, kl = dppo_policy_loss(new, torch.zeros(1, 3), torch.ones(1), c, torch.ones(3))
    expected = -(1.001 + 1 + mid + 1.1) / 3
    assert math.isclose(loss.item(), expected, rel_tol=1e-6)
    assert math.isclose(kl.item(), 0.5 - math.log(1.5), rel_tol=1e-6)


def _agent(num_envs=16, seed=0, **kw) -> DPPOAgent:
    spec = EnvSpec(3, 2, num_envs, 50, 1.0, "cpu")
    return DPPOAgent(_cfg(**kw), spec, RunSeeds.derive(seed, "test", "dppo"), "cpu")


def _fill(agent, g: torch.Generator) -> None:
    n, d = agent.spec.num_envs, agent.spec.obs_dim
    while not agent.ready():
        obs = 3.0 * torch.randn(n, d, generator=g)
        a, ex = agent.act(obs)
        z = torch.zeros(n, dtype=torch.bool)
        agent.observe(Transition(obs, a, a.sum(-1) + torch.randn(n, generator=g), obs + 0.1, obs, z, z, True, ex))


def test_first_minibatch_ratio_is_one_and_update_changes_the_denoiser():
    agent = _agent(clip_ploss_coef=0.2, target_kl=0.0)
    g = torch.Generator().manual_seed(0)
    for _ in range(2):
        _fill(agent, g)
        before = [p.detach().clone() for p in agent.chain.actor.parameters()]
        out = agent.update()
        assert agent.first_ratio.shape == (agent.buffer.num_steps * 16 // agent.cfg.minibatches, 5)
        torch.testing.assert_close(agent.first_ratio, torch.ones_like(agent.first_ratio), rtol=0, atol=1e-5)
        assert all(math.isfinite(v) for v in out.values()), out
        assert any((a - b).abs().max() > 0 for a, b in zip(agent.chain.actor.parameters(), before))


def test_frozen_base_steps_stay_fixed_when_fine_tuning_only_the_last_steps():
    agent = _agent(denoising_steps=5, ft_denoising_steps=2, target_kl=0.0)
    base = [p.detach().clone() for p in agent.chain.actor_base.parameters()]
    _fill(agent, torch.Generator().manual_seed(1))
    assert agent.buffer["chain"].shape[2:] == (3, 2) and agent.buffer["log_probs"].shape[2:] == (2, 2)
    agent.update()
    assert all(torch.equal(a, b) for a, b in zip(agent.chain.actor_base.parameters(), base))
    assert any(not torch.equal(a, b) for a, b in zip(agent.chain.actor.parameters(), base))


def test_samplers():
    agent = _agent()
    obs = torch.randn(8, 3)
    a, ex = agent.act(obs)
    assert a.abs().max() <= 1.0 and ex["chain"].shape == (8, 6, 2) and ex["log_probs"].shape == (8, 5, 2)
    torch.testing.assert_close(ex["chain"][:, -1].clamp(-1, 1), a)
    # training steps: noise is clipped at +-3 floored stds, so every step's log-density is bounded below
    lo = -0.5 * 9 - math.log(agent.cfg.min_sampling_denoising_std) - 0.5 * math.log(2 * math.pi)
    assert ex["log_probs"].min() >= lo - 1e-4 or agent.cfg.min_sampling_denoising_std != agent.cfg.min_logprob_denoising_std
    d1 = agent.eval_act(obs, "deterministic", torch.Generator())
    d2 = agent.eval_act(obs, "deterministic", torch.Generator())
    torch.testing.assert_close(d1, d2)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    torch.testing.assert_close(agent.eval_act(obs, "dppo_eval", g1), agent.eval_act(obs, "dppo_eval", g2))
    with pytest.raises(ValueError, match="dppo_eval"):
        agent.eval_act(obs, "nope", g1)
    other = _agent(seed=1)
    other.load_state_dict(agent.state_dict())
    torch.testing.assert_close(other.eval_act(obs, "deterministic", torch.Generator()), d1)


def test_config_validation_and_registration():
    with pytest.raises(ValueError, match="ft_denoising_steps"):
        _cfg(denoising_steps=3, ft_denoising_steps=4).validate()
    spec = {a.name: a for a in list_algorithms()}["dppo"]
    assert spec.on_policy and spec.upstream.startswith("irom-lab/dppo@") and spec.config_cls is DPPOConfig
