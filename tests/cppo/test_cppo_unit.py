"""CPPO unit checks: kernel densities, initial policy, flow sampler, distillation, PPO ratio, kernel reset."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch.distributions import Independent, Normal, kl_divergence

from harness.blocks.gaussian import gaussian_entropy, gaussian_log_prob
from harness.agent import Transition
from harness.diffusion import euler_flow
from harness.env import EnvSpec
from harness.optim import diag_gaussian_kl
from harness.seeding import RunSeeds
from methods.cppo.agent import CPPOAgent
from methods.cppo.config import TUNED, CPPOConfig
from methods.cppo.losses import flow_matching_loss, score_regulariser, sliced_wasserstein

torch.set_num_threads(1)


def _cfg(**kw) -> CPPOConfig:
    """Toy preset on the pre-issue-13 defaults (``preset:cppo_v1``: Langevin kernel base, std from
    sqrt(2h), "mean" reset, kernel-KL schedule), the settings these mechanism checks were written for;
    each test overrides what it checks. The current defaults are checked in tests/cppo/test_cppo_v2.py
    and ``test_default_initial_policy_is_n0_2i`` below."""
    base = dataclasses.replace(CPPOConfig(), **TUNED["preset:toy"], **TUNED["preset:cppo_v1"])
    return dataclasses.replace(base, **kw)


def _agent(obs_dim=2, action_dim=2, num_envs=16, seed=0, **kw) -> CPPOAgent:
    spec = EnvSpec(obs_dim, action_dim, num_envs, 50, 1.0, "cpu")
    return CPPOAgent(_cfg(**kw), spec, RunSeeds.derive(seed, "test", "cppo"), "cpu")


def _fill(agent: CPPOAgent, g: torch.Generator) -> None:
    n, d = agent.spec.num_envs, agent.spec.obs_dim
    while not agent.ready():
        obs = torch.randn(n, d, generator=g)
        a, ex = agent.act(obs)
        z = torch.zeros(n, dtype=torch.bool)
        agent.observe(Transition(obs, a, torch.randn(n, generator=g), obs + 0.1, obs, z, z, True, ex))


def test_kernel_log_prob_and_kl_match_torch_distributions():
    g = torch.Generator().manual_seed(0)
    agent = _agent(obs_dim=3, action_dim=4, kernel_std="state")
    # Give the kernel non-trivial outputs (last layer is zero at init).
    with torch.no_grad():
        for p in agent.kernel.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))
    s, a0 = torch.randn(64, 3, generator=g), torch.randn(64, 4, generator=g)
    mean, std = agent.kernel(s, a0)
    x = mean + std * torch.randn(64, 4, generator=g)
    ref = Independent(Normal(mean, std), 1)
    torch.testing.assert_close(gaussian_log_prob(x, mean, std), ref.log_prob(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gaussian_entropy(std), ref.entropy(), rtol=1e-5, atol=1e-5)
    mean2, std2 = mean + 0.2 * torch.randn(64, 4, generator=g), std * torch.exp(0.3 * torch.randn(64, 4, generator=g))
    torch.testing.assert_close(
        diag_gaussian_kl(mean, std, mean2, std2), kl_divergence(ref, Independent(Normal(mean2, std2), 1)),
        rtol=1e-5, atol=1e-5,
    )
    # The score regulariser ("kl") is the KL to the Langevin prior N((1-h) a0, 2h I).
    pm, ps = agent.kernel.prior(a0)
    torch.testing.assert_close(
        score_regulariser(mean, std, pm, ps, "kl"), kl_divergence(ref, Independent(Normal(pm, ps), 1)),
        rtol=1e-5, atol=1e-5,
    )
    assert float(score_regulariser(pm, ps, pm, ps, "kl").abs().max()) < 1e-6


def test_initial_policy_is_standard_normal():
    agent = _agent(obs_dim=3, action_dim=2, num_envs=4096)
    obs = torch.randn(4096, 3, generator=torch.Generator().manual_seed(1))
    _, ex = agent.act(obs)
    raw = ex["raw_actions"]
    n = raw.shape[0]
    # Exact initial law per dim: N(0, (1 - h)^2 + 2h) = N(0, 1.0025).
    assert raw.mean(0).abs().max() < 4.0 / math.sqrt(n)
    assert (raw.var(0) - 1.0).abs().max() < 0.0025 + 4.0 * math.sqrt(2.0 / n)
    assert abs(float(torch.corrcoef(raw.T)[0, 1])) < 4.0 / math.sqrt(n)


def test_default_initial_policy_is_n0_2i():
    """The registry defaults since issue 13 (identity kernel base, kernel std 1): a0 = x0 ~ N(0, I) plus
    kernel noise N(0, 1), i.e. N(0, 2 I) per dim."""
    spec = EnvSpec(3, 2, 4096, 50, 1.0, "cpu")
    cfg = dataclasses.replace(CPPOConfig(), **TUNED["preset:toy"])
    assert (cfg.kernel_base, cfg.kernel_init_std, cfg.kernel_reset, cfg.kl_source) == ("identity", 1.0, "delta", "realised")
    agent = CPPOAgent(cfg, spec, RunSeeds.derive(0, "test", "cppo"), "cpu")
    _, ex = agent.act(torch.randn(4096, 3, generator=torch.Generator().manual_seed(1)))
    raw, n = ex["raw_actions"], 4096
    assert raw.mean(0).abs().max() < 4.0 * math.sqrt(2.0 / n)
    assert (raw.var(0) - 2.0).abs().max() < 4.0 * 2.0 * math.sqrt(2.0 / n)
    torch.testing.assert_close(ex["a0"], ex["x0"])  # zero-initialised velocity: a0 = x0


def test_flow_sampler_with_zero_velocity_is_identity():
    x0 = torch.randn(32, 3, generator=torch.Generator().manual_seed(2))
    for k in (1, 4, 8, 16):
        assert torch.equal(euler_flow(lambda x, t: torch.zeros_like(x), x0, k), x0)
    agent = _agent()
    s = torch.randn(32, 2)
    assert torch.equal(agent.flow.sample(s, x0[:, :2], 8), x0[:, :2])


def test_fast_flow_sampler_equals_euler_integration_of_forward():
    """``FlowVelocity.sample`` precomputes the first layer's state/time terms: same function as
    integrating ``forward`` step by step (up to float rounding), with non-trivial weights."""
    agent = _agent()
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in agent.flow.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g))
    s, x0 = torch.randn(64, 2, generator=g), torch.randn(64, 2, generator=g)
    for k in (1, 3, 8):
        fast = agent.flow.sample(s, x0, k)
        slow = euler_flow(lambda x, t: agent.flow(s, x, t), x0, k)
        torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-4 * float(slow.abs().max()))
        assert not torch.allclose(fast, x0)  # the velocity really moved the samples


def test_sliced_wasserstein_is_exact_in_1d():
    x = torch.tensor([[[0.0], [1.0], [2.0]]])
    y = torch.tensor([[[3.0], [1.0], [2.0]]])  # sorted: (1,2,3) vs (0,1,2): W2 = 1
    assert float(sliced_wasserstein(x, y, 8, None)) == pytest.approx(1.0)


@pytest.mark.parametrize("noise", ["fresh", "coupled"])
def test_distillation_learns_both_modes_of_a_bimodal_target(noise):
    """Flow matching on a fixed 1-D target 0.5 N(-1.5, 0.2^2) + 0.5 N(1.5, 0.2^2): both modes hold 30-70%."""
    g = torch.Generator().manual_seed(3)
    agent = _agent(obs_dim=1, action_dim=1, flow_hidden=(64, 64), flow_lr=3e-3)
    n = 2048
    obs = torch.zeros(n, 1)
    x0 = torch.randn(n, 1, generator=g)
    # Coupled source points: the sign of x0 picks the mode (a monotone map the flow can learn).
    sign = torch.sign(x0) if noise == "coupled" else torch.where(torch.rand(n, 1, generator=g) < 0.5, -1.0, 1.0)
    target = 1.5 * sign + 0.2 * torch.randn(n, 1, generator=g)
    opt = torch.optim.Adam(agent.flow.parameters(), lr=3e-3)
    for _ in range(600):
        idx = torch.randint(0, n, (256,), generator=g)
        loss = flow_matching_loss(lambda x, t: agent.flow(obs[idx], x, t), target[idx], g,
                                  x0[idx] if noise == "coupled" else None)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        a = agent.flow.sample(torch.zeros(4000, 1), torch.randn(4000, 1, generator=g), 16)
    right = float((a > 0).float().mean())
    assert 0.3 <= right <= 0.7, right
    near = float(((a.abs() - 1.5).abs() < 0.6).float().mean())
    assert near > 0.8, near


def test_first_ppo_minibatch_sees_ratio_one_and_metrics_are_finite():
    g = torch.Generator().manual_seed(4)
    agent = _agent(num_envs=8)
    for _ in range(2):  # second iteration: after an obs-normaliser update, EMA and a kernel reset
        _fill(agent, g)
        metrics = agent.update()
        assert agent.first_ratio is not None
        torch.testing.assert_close(agent.first_ratio, torch.ones_like(agent.first_ratio), rtol=0, atol=1e-6)
        assert metrics["first_ratio_dev"] < 1e-6
        for key in ("policy_loss", "value_loss", "approx_kl", "clip_fraction", "kernel_std", "score_reg",
                    "flow_loss", "fit_swd", "fit_swd_floor", "gradient_steps"):
            assert math.isfinite(metrics[key]), key


def test_kernel_reset_restores_the_initial_head():
    g = torch.Generator().manual_seed(5)
    agent = _agent(num_envs=8, kernel_reset="none", kernel_std="state")
    init = {k: v.clone() for k, v in agent.kernel.state_dict().items()}
    _fill(agent, g)
    agent.update()
    head = agent.kernel.head_parameters()
    assert any(float(p.detach().abs().max()) > 0 for p in head[:2]) or not torch.equal(head[2], init["log_std"])
    agent.reset_kernel()
    w, b, log_std = head
    assert float(w.detach().abs().max()) == 0.0 and float(b.detach().abs().max()) == 0.0
    torch.testing.assert_close(log_std.detach(), init["log_std"])
    assert all(p not in agent.optimizer.state for p in head)
    s, a0 = torch.randn(16, 2, generator=g), torch.randn(16, 2, generator=g)
    mean, std = agent.kernel(s, a0)
    pm, ps = agent.kernel.prior(a0)
    torch.testing.assert_close(mean, pm)
    torch.testing.assert_close(std, ps)


def test_kernel_reset_mean_keeps_the_learned_std():
    """``kernel_reset="mean"``: g's head is zeroed after each update, the learned log-std (and its Adam
    state) persists; ``kernel_init_std`` sets the initial std."""
    g = torch.Generator().manual_seed(8)
    agent = _agent(num_envs=8, kernel_reset="mean", kernel_init_std=0.7)
    torch.testing.assert_close(agent.kernel.log_std.detach(), torch.full((2,), math.log(0.7)))
    _fill(agent, g)
    agent.update()
    w, b, log_std = agent.kernel.head_parameters()
    assert float(w.detach().abs().max()) == 0.0 and float(b.detach().abs().max()) == 0.0
    assert not torch.allclose(log_std.detach(), torch.full((2,), math.log(0.7)))  # learned, not reset
    assert log_std in agent.optimizer.state and w not in agent.optimizer.state


def test_new_mean_targets_make_the_flow_fit_the_kernel_mean():
    """``distill_targets="new_mean"`` distils ``mu_new(s, a0)`` (no kernel noise): with a frozen kernel
    of mean ``(1 - h) a0 + 0.5`` and std 1.5, the distilled flow has mean ~0.5 and std ~(1 - h), not ~1.8."""
    g = torch.Generator().manual_seed(10)
    agent = _agent(num_envs=64, distill_targets="new_mean", distill_epochs=60, flow_lr=3e-3, fit_states=0)
    with torch.no_grad():
        last = [m for m in agent.kernel.g.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.bias.fill_(0.5)
        agent.kernel.log_std.fill_(math.log(1.5))  # sample targets would have std ~1.8: the test tells them apart
    n = 2048
    s = torch.zeros(n, 2)
    x0 = torch.randn(n, 2, generator=g)
    agent._distill(s, x0, x0, x0)
    a = agent.flow.sample(s, torch.randn(n, 2, generator=g), agent.cfg.flow_steps).detach()
    assert (a.mean(0) - 0.5).abs().max() < 0.1
    assert ((a.std(0) - (1.0 - agent.cfg.langevin_step)).abs() < 0.25).all()


def test_evaluation_uses_its_generator_and_leaves_training_state_alone():
    agent = _agent(num_envs=8, eval_stochastic_extra=True)
    assert agent.eval_modes == ("flow", "flow_stochastic")
    obs = torch.randn(8, 2)
    before = agent.gen.get_state()
    a1 = agent.eval_act(obs, "stochastic", torch.Generator().manual_seed(9))
    a2 = agent.eval_act(obs, "stochastic", torch.Generator().manual_seed(9))
    f = agent.eval_act(obs, "flow_stochastic", torch.Generator().manual_seed(9))
    d = agent.eval_act(obs, "deterministic", torch.Generator().manual_seed(9))
    assert torch.equal(a1, a2) and torch.equal(agent.gen.get_state(), before)
    assert f.shape == d.shape == (8, 2) and float(d.abs().max()) == 0.0  # x0 = 0 -> a0 = 0 -> mean 0
    with pytest.raises(ValueError):
        agent.eval_act(obs, "bogus", torch.Generator())


def test_state_dict_round_trip():
    g = torch.Generator().manual_seed(6)
    a = _agent(num_envs=8)
    _fill(a, g)
    a.update()
    b = _agent(num_envs=8, seed=1)
    b.load_state_dict(a.state_dict())
    obs = torch.randn(8, 2)
    x = a.eval_act(obs, "stochastic", torch.Generator().manual_seed(0))
    y = b.eval_act(obs, "stochastic", torch.Generator().manual_seed(0))
    assert torch.equal(x, y)


def test_kernel_reset_delta_trains_every_layer_and_restarts_at_zero():
    """``kernel_reset="delta"``: g is measured from a frozen copy re-synced after each update, so every
    rollout starts from the kernel mean ``(1 - h) a0`` (ratio 1 again) while all of g's layers and their
    Adam state persist; the frozen copy is not trained."""
    g = torch.Generator().manual_seed(11)
    agent = _agent(num_envs=8, kernel_reset="delta")
    frozen = {id(p) for p in agent.kernel.g_frozen.parameters()}
    assert not any(id(p) in frozen for grp in agent.optimizer.param_groups for p in grp["params"])
    before = [p.detach().clone() for p in agent.kernel.g.parameters()]
    for _ in range(2):
        _fill(agent, g)
        assert agent.update()["first_ratio_dev"] < 1e-6
    assert all(not torch.equal(b, p.detach()) for b, p in zip(before, agent.kernel.g.parameters()))
    assert all(p in agent.optimizer.state for p in agent.kernel.g.parameters())
    s, a0 = torch.randn(16, 2, generator=g), torch.randn(16, 2, generator=g)
    assert float(agent.kernel.g(torch.cat([s, a0], -1)).abs().max()) > 0.0  # g itself is not zero...
    torch.testing.assert_close(agent.kernel(s, a0)[0], agent.kernel.prior(a0)[0])  # ...its offset is


def test_identity_kernel_base_keeps_the_langevin_prior_for_the_regulariser():
    agent = _agent(kernel_base="identity")
    s, a0 = torch.randn(16, 2), torch.randn(16, 2)
    torch.testing.assert_close(agent.kernel(s, a0)[0], a0)
    torch.testing.assert_close(agent.kernel.prior(a0)[0], (1.0 - agent.cfg.langevin_step) * a0)
