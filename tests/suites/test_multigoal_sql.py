"""``toy/MultiGoalSQL``: hand-computed transitions, the optimum bound, and synthetic policies that the
mode metrics must tell apart (4-mode mixture -> 4 modes; single Gaussian -> 1 mode, 1 goal; wide
Gaussian -> 1 mode but high reached-goal entropy)."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from analysis.modes import count_modes
from analysis.stats import _coverage_of
from harness.evaluation import run_episodes
from harness.registry import get_task
from suites.toy.multigoal_sql import (
    SQL_GOALS,
    MultiGoalSQL,
    optimal_multigoal_sql_return,
    optimal_steps,
    zero_action_multigoal_sql_return,
)

REPO = Path(__file__).resolve().parents[2]


def env_at(pos, n=None):
    pos = torch.tensor(pos, dtype=torch.float32)
    env = MultiGoalSQL(num_envs=len(pos), seed=0)
    env.reset()
    env.pos = pos.clone()
    return env


def test_registered_with_upstream_settings():
    t = get_task("toy/MultiGoalSQL")
    assert t.episode_length == 30 and t.outcomes == ("east", "west", "north", "south")
    env = t.factory(4, 0, "cpu")
    assert env.spec.obs_dim == 2 and env.spec.action_dim == 2
    assert [n for n, _ in env.probe_states] == ["start", "west_half", "northeast_diag"]


def test_hand_computed_transition():
    env = env_at([[1.0, 2.0]])
    obs, r, term, trunc, info = env.step(torch.tensor([[0.5, -0.2]]))
    # p' = (1.5, 1.8); nearest goal (0, 5): squared distance 1.5^2 + 3.2^2 = 12.49; |a|^2 = 0.29
    assert obs[0].tolist() == pytest.approx([1.5, 1.8])
    assert r.item() == pytest.approx(-30 * 0.29 - 12.49, abs=1e-4)
    assert not term.item() and not trunc.item() and info["outcome"].item() == -1


def test_goal_reached_pays_bonus_terminates_and_reports_goal():
    env = env_at([[3.5, 0.0], [0.0, -3.2]])
    obs, r, term, trunc, info = env.step(torch.tensor([[0.6, 0.0], [0.0, -0.7]]))
    # env 0: p' = (4.1, 0), distance 0.9 < 1 to east: -30*0.36 - 0.81 + 10; env 1: (0, -3.9), 1.1 away
    assert r.tolist() == pytest.approx([-30 * 0.36 - 0.81 + 10, -30 * 0.49 - 1.21], abs=1e-4)
    assert term.tolist() == [True, False] and not trunc.any()
    assert info["outcome"].tolist() == [0, -1]
    assert info["final_obs"][0].tolist() == pytest.approx([4.1, 0.0])
    assert obs[0].norm().item() < 1.0  # auto-reset near the origin


def test_actions_and_positions_are_clipped():
    env = env_at([[6.5, -6.8]])
    obs, r, *_ = env.step(torch.tensor([[3.0, -2.0]]))
    assert obs[0].tolist() == pytest.approx([7.0, -7.0])  # a clipped to (1, -1), position to the box
    assert r.item() == pytest.approx(-30 * 2 - (2.0**2 + 7.0**2), abs=1e-4)


def test_time_limit_truncates_at_30():
    env = MultiGoalSQL(num_envs=3, seed=1)
    env.reset()
    for t in range(30):
        _, r, term, trunc, _ = env.step(torch.zeros(3, 2))
        assert not term.any()
        assert bool(trunc.all()) == (t == 29)


def test_start_distribution_is_seeded_normal():
    a, b = MultiGoalSQL(4096, seed=3), MultiGoalSQL(4096, seed=3)
    x = a.reset()
    assert torch.equal(x, b.reset())
    assert x.mean().abs().item() < 0.01 and x.std().item() == pytest.approx(0.1, rel=0.05)


def _rollout_return(steps):
    """Return of moving east along the axis from the origin with the given step lengths."""
    env = env_at([[0.0, 0.0]])
    total = 0.0
    for s in steps:
        _, r, term, _, _ = env.step(torch.tensor([[s, 0.0]]))
        total += r.item()
        if term.item():
            return total, True
    return total, False


def _path_cost(s):
    """k-step cost of a straight path from the origin: 30 |s|^2 + sum_i (5 - S_i)^2 (S partial sums)."""
    left = 5.0 - np.cumsum(s)
    return float(30 * s @ s + left @ left)


def _path_cost_grad(s):
    left = 5.0 - np.cumsum(s)
    return 60 * s - 2 * np.cumsum(left[::-1])[::-1]


def test_optimum_bound_matches_numerical_optimisation_and_is_attained():
    """SLSQP on the relaxation 'k steps in [0, 1], sum >= 4' for every k <= 30 (its value bounds the best
    path that reaches a goal at step k from above) agrees with the closed form."""
    scipy_opt = pytest.importorskip("scipy.optimize")
    bound = optimal_multigoal_sql_return()
    relaxed = {}
    for k in range(4, 31):
        res = scipy_opt.minimize(_path_cost, np.full(k, 4.0 / k), jac=_path_cost_grad, method="SLSQP",
                                 bounds=[(0, 1)] * k, constraints=[{"type": "ineq", "fun": lambda s: s.sum() - 4.0,
                                                                     "jac": lambda s: np.ones_like(s)}])
        assert res.success
        relaxed[k] = 10 - res.fun
    assert max(relaxed.values()) == pytest.approx(bound, abs=1e-4)
    best_k = max(relaxed, key=relaxed.get)
    steps = np.array(optimal_steps(best_k))
    assert 10 - _path_cost(steps) == pytest.approx(bound)
    # the optimal step sequence (nudged just past the threshold) reaches the goal at its last step with that return
    ret, reached = _rollout_return(list(steps * (4.0 + 1e-4) / steps.sum()))
    assert reached and ret == pytest.approx(bound, abs=0.01)
    # and it beats the obvious alternatives: full speed, evenly spread steps, and never moving
    assert _rollout_return([1.0] * 5)[0] < bound and _rollout_return([4.0001 / 10] * 10)[0] < bound
    assert zero_action_multigoal_sql_return() == pytest.approx(_rollout_return([0.0] * 30)[0])


def test_reference_scores_table_uses_the_bounds():
    table = tomllib.loads((REPO / "suites" / "reference_scores.toml").read_text())["tasks"]["toy/MultiGoalSQL"]
    assert table["max"] == pytest.approx(optimal_multigoal_sql_return(), abs=5e-3)
    assert table["min"] == zero_action_multigoal_sql_return() == -750.0


# ---- synthetic policies -----------------------------------------------------------------------

GOALS = torch.tensor(SQL_GOALS)


def _towards(pos, goal_idx, speed):
    d = GOALS[goal_idx] - pos
    return speed * d / d.norm(dim=-1, keepdim=True).clamp(min=1e-6)


def mixture_policy(g, temperature=5.0, speed=0.5, std=0.05):
    """Soft-max-entropy-like: pick a goal with probability softmax(-|p - g|^2 / T), head for it."""
    def act(obs):
        logits = -((obs[:, None, :] - GOALS[None]) ** 2).sum(-1) / temperature
        k = torch.multinomial(torch.softmax(logits, -1), 1, generator=g)[:, 0]
        return (_towards(obs, k, speed) + std * torch.randn(obs.shape, generator=g)).clamp(-1, 1)
    return act


def gaussian_policy(g, std, speed=0.5):
    """One Gaussian per state, its mean towards the nearest goal (ties at the origin: east)."""
    def act(obs):
        k = ((obs[:, None, :] - GOALS[None]) ** 2).sum(-1).argmin(-1)
        return (_towards(obs, k, speed) + std * torch.randn(obs.shape, generator=g)).clamp(-1, 1)
    return act


def east_policy(g, std=0.1):
    def act(obs):
        return (torch.tensor([0.5, 0.0]) + std * torch.randn(obs.shape, generator=g)).clamp(-1, 1)
    return act


def _metrics(make_policy):
    g = torch.Generator().manual_seed(0)
    policy = make_policy(g)
    env = MultiGoalSQL(num_envs=256, seed=0)
    stats = run_episodes(env, policy, has_outcomes=True)
    distinct, entropy, reach = _coverage_of(stats.outcomes, 4)
    modes = {}
    for name, obs in MultiGoalSQL.probe_states:
        actions = policy(torch.tensor([obs]).repeat(256, 1))
        modes[name] = count_modes(actions.numpy())
    return modes, distinct, entropy, reach


def test_mixture_policy_is_multimodal_at_the_start():
    modes, distinct, entropy, reach = _metrics(mixture_policy)
    assert modes == {"start": 4, "west_half": 1, "northeast_diag": 2}
    assert distinct == 4 and entropy > 1.3 and reach > 0.9


def test_single_gaussian_is_unimodal_and_reaches_one_goal():
    modes, distinct, entropy, reach = _metrics(east_policy)
    assert modes["start"] == 1 and distinct == 1 and entropy == 0.0 and reach > 0.9


def test_wide_gaussian_is_unimodal_but_has_high_goal_entropy():
    """The symmetry breaks at random (start noise, wide steps), not because the policy is multimodal."""
    modes, distinct, entropy, reach = _metrics(lambda g: gaussian_policy(g, std=0.5))
    assert modes["start"] == 1 and modes["northeast_diag"] == 1
    assert distinct == 4 and entropy > 1.2
