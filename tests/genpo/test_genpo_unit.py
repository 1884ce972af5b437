"""GenPO unit checks: the coupled flow's exact likelihood against brute-force change of variables,
inverse round trip, the density integrating to 1, the entropy estimators, first-minibatch ratio 1."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from baselines.genpo.agent import GenPOAgent
from baselines.genpo.config import TUNED, GenPOConfig
from baselines.genpo.losses import importance_entropy, kl_for_schedule, logprob_entropy
from baselines.genpo.networks import CoupledFlow, standard_normal_log_prob
from harness.agent import Transition
from harness.env import EnvSpec
from harness.nn import seeded_init
from harness.registry import list_algorithms
from harness.seeding import RunSeeds

torch.set_num_threads(1)


def _cfg(**kw) -> GenPOConfig:
    return dataclasses.replace(GenPOConfig(), **{**TUNED["preset:toy"], **kw})


def _flow(obs_dim=3, action_dim=2, seed=0, scale=0.5, **kw) -> CoupledFlow:
    """A float64 flow with non-trivial weights (a strongly state- and input-dependent field)."""
    with seeded_init(seed):
        flow = CoupledFlow(obs_dim, action_dim, _cfg(**kw)).double()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return flow


def test_inverse_round_trips():
    flow = _flow()
    g = torch.Generator().manual_seed(0)
    s, x0 = torch.randn(64, 3, generator=g, dtype=torch.float64), torch.randn(64, 4, generator=g, dtype=torch.float64)
    x = flow(s, x0)
    assert (x - x0).abs().max() > 0.1  # the flow does something
    torch.testing.assert_close(flow.inverse(s, x), x0, rtol=0, atol=1e-10)
    torch.testing.assert_close(flow(s, flow.inverse(s, x)), x, rtol=0, atol=1e-10)


def test_log_likelihood_equals_brute_force_change_of_variables():
    flow = _flow(flow_steps=3, mix_p=0.8)
    g = torch.Generator().manual_seed(1)
    s = torch.randn(5, 3, generator=g, dtype=torch.float64)
    x = 1.5 * torch.randn(5, 4, generator=g, dtype=torch.float64)
    for i in range(5):
        si, xi = s[i:i + 1], x[i:i + 1]
        inv = lambda v: flow.inverse(si, v.reshape(1, 4)).reshape(4)  # noqa: E731
        J_inv = torch.autograd.functional.jacobian(inv, xi.reshape(4))
        brute = standard_normal_log_prob(inv(xi.reshape(4))[None]) + torch.linalg.slogdet(J_inv)[1]
        torch.testing.assert_close(flow.log_prob(si, xi), brute, rtol=0, atol=1e-9)
        # and the forward Jacobian's determinant is the closed form p^(2NA)
        x0 = inv(xi.reshape(4))
        J_fwd = torch.autograd.functional.jacobian(lambda v: flow(si, v.reshape(1, 4)).reshape(4), x0)
        assert math.isclose(torch.linalg.slogdet(J_fwd)[1].item(), 2 * 3 * 2 * math.log(0.8), abs_tol=1e-9)
    # sample() returns the same log-prob as evaluating the sample through the inverse
    x0 = torch.randn(16, 4, generator=g, dtype=torch.float64)
    xs, lp = flow.sample(s[:1].expand(16, -1), x0)
    torch.testing.assert_close(lp, flow.log_prob(s[:1].expand(16, -1), xs), rtol=0, atol=1e-9)


def test_density_integrates_to_one():
    # A small field keeps the density smooth enough for a 300 x 300 grid (the support is within +-6).
    flow = _flow(obs_dim=2, action_dim=1, seed=3, scale=0.3, actor_hidden=(16, 16), time_hidden=(16,))
    L, n = 9.0, 300
    grid = torch.linspace(-L, L, n, dtype=torch.float64)
    xx, yy = torch.meshgrid(grid, grid, indexing="ij")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1)
    s = torch.tensor([[0.7, -1.2]], dtype=torch.float64).expand(pts.shape[0], -1)
    with torch.no_grad():
        mass = flow.log_prob(s, pts).exp().sum().item() * (grid[1] - grid[0]).item() ** 2
    assert abs(mass - 1.0) < 1e-4, mass


def test_entropy_estimators_match_the_closed_form_of_a_linear_flow():
    # Zero field: the flow is the mixing only, x = M x0, so pi = N(0, M M^T) with entropy H(N(0, I)) + log|det M|.
    flow = _flow(obs_dim=2, action_dim=2, scale=0.0, actor_hidden=(8,), time_hidden=(8,))
    with torch.no_grad():
        last = flow.field[-1]
        last.weight.zero_()
        last.bias.zero_()
    D = 4
    exact = 0.5 * D * (1.0 + math.log(2 * math.pi)) + flow.log_det
    g = torch.Generator().manual_seed(0)
    B = 50_000
    s = torch.zeros(B, 2, dtype=torch.float64)
    with torch.no_grad():
        x, lp = flow.sample(s, torch.randn(B, D, generator=g, dtype=torch.float64))
        lp_est = logprob_entropy(lp).item()
        is_est = importance_entropy(lambda v: flow.log_prob(s, v.double()), (B, D), 3.0, g, "cpu").item()
    assert abs(lp_est - exact) < 0.05, (lp_est, exact)
    assert abs(is_est - exact) < 0.15, (is_est, exact)


def test_kl_rule_raises_lr_on_tiny_negative_kl_as_upstream():
    assert kl_for_schedule(0.0) > 0 and kl_for_schedule(-5e-5) > 0
    assert kl_for_schedule(-1e-3) == -1e-3 and kl_for_schedule(0.05) == 0.05


def _agent(num_envs=16, seed=0, **kw) -> GenPOAgent:
    spec = EnvSpec(3, 2, num_envs, 50, 1.0, "cpu")
    return GenPOAgent(_cfg(**kw), spec, RunSeeds.derive(seed, "test", "genpo"), "cpu")


def _fill(agent, g: torch.Generator) -> None:
    n, d = agent.spec.num_envs, agent.spec.obs_dim
    while not agent.ready():
        obs = 3.0 * torch.randn(n, d, generator=g)
        a, ex = agent.act(obs)
        z = torch.zeros(n, dtype=torch.bool)
        agent.observe(Transition(obs, a, a.sum(-1) + torch.randn(n, generator=g), obs + 0.1, obs, z, z, True, ex))


@pytest.mark.parametrize("estimator", ["logprob", "importance"])
def test_first_minibatch_ratio_is_one_and_update_learns(estimator):
    agent = _agent(entropy_estimator=estimator, entropy_coef=0.01)
    g = torch.Generator().manual_seed(0)
    for _ in range(2):  # second iteration: after the obs normaliser moved
        _fill(agent, g)
        before = [p.detach().clone() for p in agent.flow.parameters()]
        out = agent.update()
        torch.testing.assert_close(agent.first_ratio, torch.ones_like(agent.first_ratio), rtol=0, atol=1e-5)
        assert all(math.isfinite(v) for v in out.values()), out
        assert any((a - b).abs().max() > 0 for a, b in zip(agent.flow.parameters(), before))
        assert out["compress_loss"] > 0 and out["gradient_steps"] == agent.cfg.epochs * agent.cfg.minibatches


def test_actions_in_range_deterministic_eval_is_x0_zero_and_state_round_trips():
    agent = _agent()
    obs = torch.randn(8, 3)
    a, ex = agent.act(obs)
    assert a.shape == (8, 2) and a.abs().max() <= 1.0 and ex["raw_actions"].shape == (8, 4)
    torch.testing.assert_close(agent.flow.env_action(ex["raw_actions"]).clamp(-1, 1), a)
    d1 = agent.eval_act(obs, "deterministic", torch.Generator())
    x = agent.flow(agent._norm(obs), torch.zeros(8, 4))
    torch.testing.assert_close(d1, agent.flow.env_action(x).clamp(-1, 1))
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    torch.testing.assert_close(agent.eval_act(obs, "stochastic", g1), agent.eval_act(obs, "stochastic", g2))
    other = _agent(seed=1)
    other.load_state_dict(agent.state_dict())
    torch.testing.assert_close(other.eval_act(obs, "deterministic", torch.Generator()), d1)


def test_registered():
    spec = {a.name: a for a in list_algorithms()}["genpo"]
    assert spec.on_policy and spec.upstream.startswith("wadx2019/genpo@") and spec.config_cls is GenPOConfig
