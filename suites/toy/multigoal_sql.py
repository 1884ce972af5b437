"""``toy/MultiGoalSQL``: the multi-goal task of Haarnoja et al. 2017 (Soft Q-learning), vectorised in torch.

Reimplemented (read, not copied) from ``haarnoja/softqlearning``:
``softqlearning/environments/multigoal.py`` (``MultiGoalEnv``, commit b801266e) with the horizon and
plotted states of ``examples/multigoal_sql.py`` (commit 5f2c93c5); the same environment is used by
the DACER and DIPO papers for their multimodality pictures.

Task (upstream defaults):

* state = observation = position ``p`` in the box ``[-7, 7]^2``; start ``p0 ~ N(0, 0.1^2 I)`` clipped
  to the box;
* action = velocity ``a``, clipped to ``[-1, 1]^2`` (upstream ``vel_bound = 1``; our actions already
  live in [-1, 1], so no rescaling); ``p' = clip(p + a, -7, 7)`` (deterministic, ``PointDynamics``
  with sigma 0);
* four goals ``(5, 0), (-5, 0), (0, 5), (0, -5)`` (upstream order: east, west, north, south);
* reward of a transition, computed at the new position ``p'`` with the clipped action:
  ``-actuation_cost_coeff * |a|^2 - distance_cost_coeff * min_g |p' - g|^2`` plus ``goal_reward``
  when ``min_g |p' - g| < goal_threshold``; defaults 30, 1, 10 and threshold 1. Note that upstream
  penalises the *squared* distance to the nearest goal (``np.sum((pos - goal) ** 2)``), not the
  distance; we follow the code;
* reaching a goal terminates the episode (upstream ``done``); otherwise the episode is truncated
  after 30 steps (``max_path_length=30`` in upstream's example script).

Deviations from upstream: batched torch with auto-reset and ``final_obs`` (the harness contract);
terminated/truncated kept apart (upstream returns one ``done``); the reached goal is reported per
episode in ``info["outcome"]`` (0 east, 1 west, 2 north, 3 south; -1 none); the start noise comes
from a seeded ``torch.Generator`` instead of the global numpy RNG. Upstream's plotting is not ported.

Probe states (:attr:`MultiGoalSQL.probe_states`): the three states upstream's ``QFPolicyPlotter``
draws policy samples at, ``(0, 0)`` (start; four symmetric goals), ``(-2.5, 0)`` (half-way to the
west goal; one nearest goal) and ``(2.5, 2.5)`` (equidistant from the east and north goals). A
maximum-entropy optimal policy is expected to show 4, 1 and 2 action modes there.
"""

from __future__ import annotations

import torch

from .envs import _TorchVecEnv

__all__ = ["MultiGoalSQL", "SQL_GOALS", "SQL_GOAL_NAMES", "SQL_PROBE_STATES", "optimal_multigoal_sql_return", "optimal_steps",
           "zero_action_multigoal_sql_return"]

SQL_GOALS = ((5.0, 0.0), (-5.0, 0.0), (0.0, 5.0), (0.0, -5.0))
SQL_GOAL_NAMES = ("east", "west", "north", "south")
SQL_PROBE_STATES = (("start", (0.0, 0.0)), ("west_half", (-2.5, 0.0)), ("northeast_diag", (2.5, 2.5)))
"""``(name, observation)`` pairs; upstream ``examples/multigoal_sql.py`` plots at these states."""


class MultiGoalSQL(_TorchVecEnv):
    """Haarnoja et al. 2017's MultiGoalEnv, batched (see module docstring)."""

    goal_reward = 10.0
    actuation_cost_coeff = 30.0
    distance_cost_coeff = 1.0
    goal_threshold = 1.0
    init_sigma = 0.1
    bound = 7.0
    vel_bound = 1.0
    probe_states = SQL_PROBE_STATES
    state_fields = ("pos",)
    """Observations at which evaluation samples the stochastic policy (:mod:`harness.probes`)."""

    def __init__(self, num_envs: int, seed: int, device: str = "cpu", episode_length: int = 30):
        super().__init__(num_envs, seed, device, obs_dim=2, action_dim=2, episode_length=episode_length)
        self.goals = torch.tensor(SQL_GOALS, dtype=torch.float32, device=self.device)
        self.pos = torch.zeros(num_envs, 2, device=self.device)

    def _start(self, n: int) -> torch.Tensor:
        noise = torch.randn(n, 2, generator=self.gen, device=self.device)
        return (self.init_sigma * noise).clamp(-self.bound, self.bound)

    def reset(self) -> torch.Tensor:
        self.pos = self._start(self.spec.num_envs)
        self.t.zero_()
        return self.pos.clone()

    def reward(self, next_pos: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(reward, reached, nearest goal index)`` of arriving at ``next_pos`` with clipped ``action``."""
        sq = ((next_pos[:, None, :] - self.goals[None, :, :]) ** 2).sum(-1)  # [N, 4] squared distances
        min_sq, nearest = sq.min(dim=-1)
        reached = min_sq.sqrt() < self.goal_threshold
        r = (-self.actuation_cost_coeff * (action ** 2).sum(-1) - self.distance_cost_coeff * min_sq
             + self.goal_reward * reached.float())
        return r, reached, nearest

    def step(self, action: torch.Tensor):
        a = action.to(self.device, torch.float32).clamp(-self.vel_bound, self.vel_bound)
        self.pos = (self.pos + a).clamp(-self.bound, self.bound)
        reward, reached, nearest = self.reward(self.pos, a)
        return self._goal_step_end(reward, reached, nearest)


def _straight_line_cost(steps: list[float], distance: float, coeffs: tuple[float, float]) -> float:
    """Cost of moving along a straight line towards a goal ``distance`` away with step lengths ``steps``."""
    act, dist = coeffs
    cost, left = 0.0, distance
    for s in steps:
        left -= s
        cost += act * s * s + dist * left * left
    return cost


def optimal_steps(k: int) -> list[float] | None:
    """Step lengths of the best ``k``-step straight-line path from the origin to a goal's threshold
    (``sum(s) = 5 - threshold``), or None if no such path respects the step bound.

    The cost ``sum_i c s_i^2 + d (5 - S_i)^2`` (``S_i`` partial sums) is a convex quadratic in ``s``;
    its minimum on the hyperplane ``sum(s) = 4`` is the solution of the KKT linear system.
    """
    import numpy as np  # local: the env itself needs only torch

    c, d = MultiGoalSQL.actuation_cost_coeff, MultiGoalSQL.distance_cost_coeff
    goal_dist, need = 5.0, 5.0 - MultiGoalSQL.goal_threshold
    L = np.tril(np.ones((k, k)))  # partial sums S = L s
    H = 2 * (c * np.eye(k) + d * L.T @ L)
    b = 2 * d * goal_dist * L.T @ np.ones(k)
    kkt = np.block([[H, np.ones((k, 1))], [np.ones((1, k)), np.zeros((1, 1))]])
    s = np.linalg.solve(kkt, np.concatenate([b, [need]]))[:k]
    if s.max() > MultiGoalSQL.vel_bound + 1e-9 or s.min() < -1e-9:
        return None
    return [float(x) for x in s]


def optimal_multigoal_sql_return(horizon: int = 30) -> float:
    """Supremum of the return from the start state ``(0, 0)`` (the reference maximum).

    From the origin the nearest-goal cost depends only on the distance to the goal being approached,
    so an optimal policy moves straight along an axis towards one goal (moving sideways costs
    actuation and distance alike). It reaches the goal in ``k`` steps with step lengths ``s_1..s_k``
    (each at most ``vel_bound`` on the axis) and ``sum(s) > 5 - threshold``; the episode then ends
    with ``+goal_reward``. Per ``k`` the best path is :func:`optimal_steps` (on the boundary
    ``sum(s) = 4``: the supremum, as the threshold is strict); the maximum is over ``k`` up to the
    horizon. Not reaching a goal is never better (every step short of it costs at least
    ``(5 - 4)^2 = 1`` more and forgoes the bonus).
    """
    best = -float("inf")
    for k in range(1, horizon + 1):
        s = optimal_steps(k)
        if s is not None:
            best = max(best, -_straight_line_cost(s, 5.0, (MultiGoalSQL.actuation_cost_coeff,
                                                            MultiGoalSQL.distance_cost_coeff)) + MultiGoalSQL.goal_reward)
    return float(best)


def zero_action_multigoal_sql_return(horizon: int = 30) -> float:
    """Return of the zero-action policy from ``(0, 0)``: ``horizon`` steps of ``-5^2`` (the reference minimum)."""
    return -MultiGoalSQL.distance_cost_coeff * 25.0 * horizon
