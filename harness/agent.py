"""Agent protocol: what the one runner drives, on-policy and off-policy alike.

The runner calls, per vector step::

    action, extras = agent.act(obs)                     # under torch.no_grad()
    ... env.step(action) ...
    agent.observe(Transition(obs, action, reward, next_obs, carry_obs, terminated, truncated,
                             final_obs_valid, extras))
    if agent.ready():
        metrics = agent.update()

An on-policy agent is ``ready()`` when its rollout is full; an off-policy agent when warm-up is
done and an update is due. ``extras`` carries whatever the agent needs back with the transition
(log-probs, values, the reference sample a0 of CPPO, ...). ``act`` is training only: it draws from
the agent's training generator.

Evaluation is a separate, explicit entry point: ``eval_act(obs, mode, generator) -> action`` with
``mode`` one of ``"deterministic"`` (every source of sampling noise at its zero/mode value),
``"stochastic"`` (the behaviour policy as it acts in training) or one of the agent's own extra modes
(a tuple attribute ``eval_modes``, e.g. CPPO's "flow" policy, QVPO's best-of-32). It draws only from
``generator`` and never changes training state. An agent may describe what each mode means for it in
an ``eval_protocol`` attribute (``{"deterministic": str, "stochastic": str, "extra_modes": {mode: str}}``),
which the runner stores in the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch

from .env import VecEnv

__all__ = ["Agent", "Transition", "interact", "eval_modes", "eval_protocol", "unknown_eval_mode", "STANDARD_EVAL_MODES"]


@dataclass(frozen=True)
class Transition:
    """One vector step, as the runner hands it to ``Agent.observe`` (all tensors batched ``[N, ...]``)."""

    obs: torch.Tensor
    """Observation the action was taken in."""
    action: torch.Tensor
    """Action executed, in [-1, 1]."""
    reward: torch.Tensor
    """Reward ``[N]``."""
    next_obs: torch.Tensor
    """True successor state: the final (pre-reset) observation for envs that just ended where the
    simulator provides it, else the post-step observation."""
    carry_obs: torch.Tensor
    """Post-auto-reset observation: what the policy acts on next."""
    terminated: torch.Tensor
    """bool ``[N]``: terminal state reached (no bootstrap)."""
    truncated: torch.Tensor
    """bool ``[N]``: time limit reached (bootstrap from ``next_obs``)."""
    final_obs_valid: bool
    """False where the simulator gives no final observation: then ``next_obs`` of ended envs is the
    reset observation and agents must use their documented fallback for time-outs."""
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    """What ``act`` returned alongside this action."""


@runtime_checkable
class Agent(Protocol):
    """The contract every registered algorithm's factory returns."""

    def act(self, obs: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Training: actions ``[N, A]`` in [-1, 1] and extras for ``observe``, drawn from the agent's
        training generator (warm-up behaviour included); changes no learned state."""
        ...

    def eval_act(self, obs: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
        """Evaluation: actions ``[N, A]`` in [-1, 1] for ``mode`` (``"deterministic"``, ``"stochastic"``
        or one of ``eval_modes``), drawn only from ``generator``; changes no state at all."""
        ...

    def observe(self, transition: Transition) -> None:
        """Store a transition (rollout or replay buffer, running statistics)."""
        ...

    def ready(self) -> bool:
        """True when ``update`` should be called now."""
        ...

    def update(self) -> dict[str, float]:
        """Run one update (an on-policy iteration, or the off-policy gradient steps due); return scalar
        metrics. ``metrics["gradient_steps"]`` (if present) is added to the run's update count."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything the rest of training depends on (networks, optimisers, normalisers, generators,
        the rollout in progress or the replay buffer, counters), as tensors and plain data: a run resumed
        from it continues bit for bit (the runner checkpoints at evaluation points, mid-rollout)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        ...


# Optional: ``restart_episodes()``, called after ``load_state_dict`` when a resumed run's training envs
# restart from a fresh reset instead of their saved state (suites without ``env_state``, IsaacLab): the
# agent drops whatever chains consecutive steps of the same envs (a partial on-policy rollout).


STANDARD_EVAL_MODES = ("deterministic", "stochastic")
"""The two evaluation modes every agent implements (see the module docstring for their meaning)."""


def eval_modes(agent: Any) -> tuple[str, ...]:
    """Extra evaluation modes an agent offers beyond deterministic/stochastic (may be empty)."""
    return tuple(getattr(agent, "eval_modes", ()))


def eval_protocol(agent: Any) -> dict[str, Any]:
    """What ``deterministic``, ``stochastic`` and each extra mode mean for ``agent`` (stored in the
    manifest; the report prints it). Agents that do not describe themselves get a placeholder."""
    declared = getattr(agent, "eval_protocol", None)
    if declared is None:
        missing = "not described by the agent (no eval_protocol attribute)"
        return {"deterministic": missing, "stochastic": missing, "extra_modes": {m: missing for m in eval_modes(agent)}}
    return {"deterministic": declared["deterministic"], "stochastic": declared["stochastic"],
            "extra_modes": dict(declared.get("extra_modes", {}))}


def unknown_eval_mode(agent: Any, mode: str) -> ValueError:
    """The error an agent raises for an evaluation mode it does not have (names the allowed ones)."""
    allowed = ", ".join(STANDARD_EVAL_MODES + eval_modes(agent))
    return ValueError(f"unknown evaluation mode {mode!r} for {type(agent).__name__}; allowed: {allowed}")


def interact(agent: Agent, env: VecEnv, obs: torch.Tensor) -> Transition:
    """One vector step of training interaction, as the runner drives it: ``act`` (exploring, no grad),
    ``env.step``, build the ``Transition`` (true successor = the final observation of envs that just
    ended, where the simulator gives one) and ``observe`` it. Returns the transition; its
    ``carry_obs`` is what to act on next."""
    with torch.no_grad():
        action, extras = agent.act(obs)
    next_obs, reward, terminated, truncated, info = env.step(action)
    final = info.get("final_obs")
    true_next = next_obs if final is None else torch.where((terminated | truncated)[:, None], final, next_obs)
    t = Transition(obs, action, reward, true_next, next_obs, terminated, truncated, final is not None, extras)
    agent.observe(t)
    return t
