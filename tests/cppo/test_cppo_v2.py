"""CPPO issue-13 options and diagnostics: prior only in the regulariser, adaptive lr on the realised KL,
persistent learned noise, soft kernel reset, the ``cppo_v2`` preset, and diagnostics that leave the
training trajectory alone."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from harness.agent import Transition
from harness.blocks.gaussian import gaussian_log_prob
from harness.config import resolve_config
from harness.env import EnvSpec
from harness.optim import diag_gaussian_kl
from harness.registry import get_algorithm, get_task
from harness.seeding import RunSeeds
from methods.cppo import diagnostics
from methods.cppo.agent import CPPOAgent
from methods.cppo.config import TUNED, CPPOConfig
from methods.cppo.losses import score_regulariser

torch.set_num_threads(1)


def _agent(obs_dim=2, action_dim=2, num_envs=16, seed=0, **kw) -> CPPOAgent:
    cfg = dataclasses.replace(dataclasses.replace(CPPOConfig(), **TUNED["preset:toy"]), **kw)
    spec = EnvSpec(obs_dim, action_dim, num_envs, 50, 1.0, "cpu")
    return CPPOAgent(cfg, spec, RunSeeds.derive(seed, "test", "cppo"), "cpu")


def _fill(agent: CPPOAgent, g: torch.Generator) -> None:
    """A rollout whose reward prefers large first action components (so PPO moves the policy)."""
    n, d = agent.spec.num_envs, agent.spec.obs_dim
    while not agent.ready():
        obs = torch.randn(n, d, generator=g)
        a, ex = agent.act(obs)
        z = torch.zeros(n, dtype=torch.bool)
        reward = a[:, 0] + 0.1 * torch.randn(n, generator=g)
        agent.observe(Transition(obs, a, reward, obs + 0.1, obs, z, z, True, ex))


# -- a. Langevin prior only in the regulariser ----------------------------------------------------
def test_prior_only_in_regulariser_kernel_mean_is_a0_at_init_and_after_resets():
    """``kernel_base="identity"``: the kernel mean at initialisation is a0, not (1 - h) a0; the score
    regulariser still measures against N((1 - h) a0, 2h), so it is not zero there; after an update and a
    kernel reset ("mean" or "delta") the rollout's kernel mean is a0 again."""
    g = torch.Generator().manual_seed(0)
    for reset in ("mean", "delta"):
        agent = _agent(num_envs=8, kernel_base="identity", kernel_reset=reset)
        s, a0 = torch.randn(32, 2, generator=g), torch.randn(32, 2, generator=g)
        mean, std = agent.kernel(s, a0)
        assert torch.equal(mean, a0)
        prior_mean, prior_std = agent.kernel.prior(a0)
        torch.testing.assert_close(prior_mean, (1.0 - agent.cfg.langevin_step) * a0)
        assert float(score_regulariser(mean, std, prior_mean, prior_std, "mean").mean().detach()) > 0.0
        _fill(agent, g)
        agent.update()
        torch.testing.assert_close(agent.kernel(s, a0)[0], a0)


# -- b. adaptive lr on the realised KL -------------------------------------------------------------
def test_realised_kl_schedule_lowers_the_lr_when_the_acting_policy_moves_more_than_the_target():
    g = torch.Generator().manual_seed(1)
    agent = _agent(kl_source="realised", desired_kl=1e-7, lr=1e-3)
    _fill(agent, g)
    out = agent.update()
    assert out["lr"] == 1e-3  # constant within the iteration: no per-minibatch adaptation
    assert out["realised_kl"] > 2 * agent.cfg.desired_kl  # the acting policy moved more than the target...
    assert agent.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 / 1.5)  # ...so the next lr is lower
    assert agent.kl_schedule.lr == pytest.approx(1e-3 / 1.5)
    # and it raises the lr when the policy moved less than half the target
    agent = _agent(kl_source="realised", desired_kl=1e3, lr=1e-3)
    _fill(agent, torch.Generator().manual_seed(1))
    out = agent.update()
    assert out["realised_kl"] < agent.cfg.desired_kl / 2
    assert agent.optimizer.param_groups[0]["lr"] == pytest.approx(1.5e-3)


def test_lr_max_is_the_adaptive_ceiling():
    agent = _agent(kl_source="realised", desired_kl=1e3, lr=9e-3, lr_max=5e-2)
    _fill(agent, torch.Generator().manual_seed(1))
    agent.update()
    assert agent.optimizer.param_groups[0]["lr"] == pytest.approx(1.35e-2)  # above rsl_rl's 1e-2
    with pytest.raises(ValueError, match="lr_max"):
        CPPOConfig(lr=1e-3, lr_max=1e-4).validate()


def test_kernel_kl_schedule_is_unchanged_and_scaled_schedule_sees_tau_squared_of_it():
    seen: dict[str, list[float]] = {}
    for source in ("kernel", "scaled"):
        agent = _agent(kl_source=source, ema_tau=0.5)
        seen[source] = []
        step = agent.kl_schedule.step
        agent.kl_schedule.step = lambda kl, _s=seen[source], _f=step: (_s.append(kl), _f(kl))[1]  # type: ignore[method-assign]
        _fill(agent, torch.Generator().manual_seed(2))
        agent.update()
    # identical until the first lr change: the first minibatch's KL is 0 (no change), the second's is the same
    assert seen["kernel"][0] == seen["scaled"][0] == 0.0
    assert seen["scaled"][1] == pytest.approx(0.25 * seen["kernel"][1]) and seen["kernel"][1] > 0


def test_realised_schedule_needs_the_diagnostic():
    with pytest.raises(ValueError, match="diag_states"):
        CPPOConfig(kl_source="realised", diag_states=0).validate()
    with pytest.raises(ValueError, match="adaptive"):
        CPPOConfig(kl_source="scaled", schedule="fixed").validate()


# -- c. persistent learned exploration noise --------------------------------------------------------
@pytest.mark.parametrize("reset", ["mean", "delta"])
def test_persistent_learned_std_survives_distillation_and_reset(reset):
    """With the noise kept outside the flow (``distill_targets="new_mean"``) and a persistent std
    (``kernel_reset`` "mean" or "delta"), the log-std after the whole update (distillation, EMA, kernel
    reset) is exactly what the PPO optimiser set; "head" resets it."""
    g = torch.Generator().manual_seed(3)
    agent = _agent(num_envs=8, kernel_reset=reset, distill_targets="new_mean", kernel_init_std=0.7)
    ppo = agent._ppo
    after_ppo: list[torch.Tensor] = []

    def spy(data):
        res = ppo(data)
        after_ppo.append(agent.kernel.log_std.detach().clone())
        return res

    agent._ppo = spy  # type: ignore[method-assign]
    for _ in range(2):
        _fill(agent, g)
        agent.update()
        assert torch.equal(agent.kernel.log_std.detach(), after_ppo[-1])
    assert not torch.allclose(after_ppo[-1], torch.full((2,), math.log(0.7)))  # learned
    head = _agent(num_envs=8, kernel_reset="head", kernel_init_std=0.7)
    _fill(head, g)
    head.update()
    assert torch.equal(head.kernel.log_std.detach(), torch.full((2,), math.log(0.7)))


# -- e. kernel reset without the sign-like Adam kick -------------------------------------------------
def test_soft_kernel_reset_keeps_adam_scale_and_avoids_the_sign_kick():
    steps: dict[str, float] = {}
    for mode in ("drop", "soft"):
        g = torch.Generator().manual_seed(4)
        agent = _agent(num_envs=8, kernel_reset="mean", kernel_reset_adam=mode, schedule="fixed",
                       kl_source="kernel")
        _fill(agent, g)
        agent.update()
        w = agent.kernel.head_parameters()[0]
        if mode == "soft":
            st = agent.optimizer.state[w]
            assert float(st["exp_avg"].abs().max()) == 0.0 and float(st["exp_avg_sq"].max()) > 0.0
        else:
            assert w not in agent.optimizer.state
        # the next iteration's first PPO step on the head: surrogate gradient on a fresh rollout
        _fill(agent, g)
        data = agent._ppo_batch(a0=agent.buffer["a0"])
        mean, std = agent.kernel(data["obs"], data["a0"])
        ratio = torch.exp(gaussian_log_prob(data["raw_actions"], mean, std) - data["log_probs"])
        before = w.detach().clone()
        agent.optimizer.zero_grad(set_to_none=True)
        (-(ratio * data["adv"]).mean()).backward()
        agent.optimizer.step()
        moved = (w.detach() - before).abs()
        steps[mode] = float(moved[moved > 0].mean()) / agent.cfg.lr
    assert steps["drop"] == pytest.approx(1.0, rel=0.05)  # Adam's first step: lr * sign(grad)
    assert steps["soft"] < 0.5


# -- diagnostics -----------------------------------------------------------------------------------
def test_diagnostics_do_not_change_the_training_trajectory():
    """Same seed, diagnostics on vs off: identical parameters, generator state and rollout actions. Under
    a schedule that does not read them (``kl_source="kernel"``); with the default "realised" the
    realised KL sets the next lr by design, so the diagnostics cannot be switched off there."""
    agents = [_agent(num_envs=8, diag_states=16, kl_source="kernel"), _agent(num_envs=8, diag_states=0, kl_source="kernel")]
    outs = []
    for agent in agents:
        g = torch.Generator().manual_seed(5)
        for _ in range(3):
            _fill(agent, g)
            outs.append(agent.update())
    on, off = agents
    for p, q in zip(on.state_dict()["flow"].values(), off.state_dict()["flow"].values()):
        assert torch.equal(p, q)
    for p, q in zip(on.kernel.parameters(), off.kernel.parameters()):
        assert torch.equal(p, q)
    assert torch.equal(on.gen.get_state(), off.gen.get_state())
    obs = torch.randn(8, 2)
    assert torch.equal(on.act(obs)[0], off.act(obs)[0])
    keys = {"a0_std_state", "a0_std_across", "action_std_state", "action_std_across", "kernel_kl",
            "realised_kl", "realised_kl_marginal", "action_shift", "a0_std_pooled"}
    assert keys <= set(outs[0]) and all(math.isfinite(outs[0][k]) for k in keys)
    assert "realised_kl" not in outs[3] and "a0_std_pooled" in outs[3]


def test_old_train_logs_stay_readable_under_the_new_key():
    old = {"a0_std": 0.43, "approx_kl": 0.01}
    assert diagnostics.canonical_keys(old) == {"a0_std_pooled": 0.43, "approx_kl": 0.01}


def test_spread_separates_per_state_noise_from_across_state_variation():
    g = torch.Generator().manual_seed(6)
    centre = 2.0 * torch.randn(4000, 1, 3, generator=g)  # across-state std 2
    x = centre + 0.3 * torch.randn(4000, 64, 3, generator=g)  # per-state std 0.3
    within, across = diagnostics.spread(x)
    assert within == pytest.approx(0.3, rel=0.03) and across == pytest.approx(2.0, rel=0.05)


def test_kl_estimators():
    g = torch.Generator().manual_seed(7)
    S, M, A = 8, 4000, 2
    m0, s0 = torch.randn(S, 1, A, generator=g), torch.rand(S, 1, A, generator=g) + 0.5
    m1, s1 = m0 + 0.3, s0 * 1.2
    exact = float(diag_gaussian_kl(m0, s0, m1, s1).mean())
    # one-component mixtures = Gaussians: the MC estimate converges to the exact KL
    a = m0 + s0 * torch.randn(S, M, A, generator=g)
    mc = diagnostics.marginal_kl(a, m0, s0, m1, s1)
    assert mc == pytest.approx(exact, rel=0.1)
    assert diagnostics.coupled_kl(m0.expand(S, M, A), s0.expand(S, M, A), m1.expand(S, M, A), s1.expand(S, M, A)) \
        == pytest.approx(exact, rel=1e-5)
    # unchanged policy: both are exactly zero
    assert diagnostics.marginal_kl(a, m0, s0, m0, s0) == 0.0
    assert diagnostics.coupled_kl(m0, s0, m0, s0) == 0.0


# -- the cppo_v2 preset -----------------------------------------------------------------------------
def test_cppo_v2_preset_resolves_and_runs():
    spec = get_algorithm("cppo")
    cfg = resolve_config(spec, get_task("toy/MultiGoal"), {"preset": "cppo_v2"})
    assert (cfg.kernel_base, cfg.kl_source, cfg.kernel_reset, cfg.distill_noise, cfg.kernel_init_std,
            cfg.entropy_coef) == ("identity", "realised", "delta", "fresh", 1.0, 0.0)
    assert cfg.num_steps == TUNED["preset:toy"]["num_steps"]  # on top of the task's preset
    agent = CPPOAgent(cfg, EnvSpec(2, 2, 8, 50, 1.0, "cpu"), RunSeeds.derive(0, "test", "cppo"), "cpu")
    _fill(agent, torch.Generator().manual_seed(8))
    out = agent.update()
    assert out["first_ratio_dev"] < 1e-6 and math.isfinite(out["realised_kl"])


def test_fit_every_skips_the_fitting_error():
    agent = _agent(num_envs=8, fit_every=2)
    g = torch.Generator().manual_seed(9)
    logged = []
    for _ in range(3):
        _fill(agent, g)
        logged.append("fit_swd" in agent.update())
    assert logged == [True, False, True]


# -- cost: g is not evaluated while it is known to be zero ----------------------------------------
@pytest.mark.parametrize("reset,kernel_std", [("delta", "param"), ("mean", "param"), ("head", "state"), ("delta", "state")])
def test_skipping_a_zero_g_gives_the_same_bits_and_stops_once_g_moves(reset, kernel_std):
    """The kernel skips g's nets when no parameter changed since it was zeroed (init, reset, re-sync) and
    no gradient is needed; the skipped result must be bit-identical to evaluating them, and the skip must
    stop as soon as an optimiser step (or anything in place) changes g."""
    g = torch.Generator().manual_seed(7)
    agent = _agent(num_envs=8, kernel_reset=reset, kernel_std=kernel_std)
    k = agent.kernel
    s, a0 = torch.randn(64, 2, generator=g), torch.randn(64, 2, generator=g)

    def both():
        with torch.no_grad():
            fast = k(s, a0)
        saved, k._zero_at = k._zero_at, None  # force the full evaluation
        with torch.no_grad():
            full = k(s, a0)
        k._zero_at = saved
        return fast, full

    for it in range(3):
        assert k.g_is_zero()
        (fm, fs), (m, sd) = both()
        assert torch.equal(fm, m) and torch.equal(fs, sd)
        _fill(agent, g)
        # mid-update (after the PPO step, before the reset) g is not zero and is evaluated
        agent._ppo(agent._ppo_batch(a0=agent.buffer["a0"]))
        assert not k.g_is_zero()
        with torch.no_grad():
            moved = k(s, a0)[0]
        assert not torch.equal(moved, k.base * a0)
        agent.buffer.clear()
        if reset == "delta":
            k.sync_frozen()
        else:
            agent.reset_kernel(std=reset == "head")
