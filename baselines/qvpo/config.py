"""QVPO hyperparameters.

Defaults are upstream's ``main.py`` run with ``--weighted --aug`` (wadx2019/qvpo@40a1974), which is
also the ``upstream`` preset. Two named override sets live in ``PRESETS``:

* ``upstream``: 1 gradient step per env step, batch 256, 10 k uniform warm-up steps, 64 candidate
  actions per state (the dataclass defaults; listed for symmetry);
* ``parallel``: thousands of GPU envs (IsaacLab / Playground on GPU): a fixed number of gradient
  steps per *vector* step, a 32x bigger batch, 16 instead of 64 candidates per state (sampling cost
  is ``batch x train_samples x n_timesteps`` eps-net rows per step), a larger replay and
  observation normalisation (README, "Presets").

A preset is applied like any other override set: ``--set`` the keys, or a sweep ``[variants.*]``
entry (``preset_overrides(name)`` returns the dict). The per-suite ``TUNED`` table below holds the
CPU-sized settings the quick sweep uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["QVPOConfig", "PRESETS", "TUNED", "preset_overrides", "EVAL_MODES"]

EVAL_MODES = ("best_of_32_by_q", "single_sample")
"""Extra evaluation modes the agent can report (see ``QVPOConfig.eval_extra``)."""


@dataclass(frozen=True)
class QVPOConfig:
    num_envs: int = 0
    """Parallel training envs; 0 = the task's default."""

    # -- diffusion policy -------------------------------------------------------------------------
    n_timesteps: int = 20
    """DDPM denoising steps T (upstream ``--n_timesteps 20``)."""
    beta_schedule: Literal["cosine", "vp"] = "cosine"
    """Noise schedule (upstream default ``cosine``, s = 0.008, beta <= 0.999)."""
    noise_ratio: float = 1.0
    """Scale of the per-step posterior noise while sampling (upstream ``--noise_ratio``); the
    'deterministic' evaluation column uses 0."""
    actor_hidden: tuple[int, ...] = (256, 256, 256)
    """Eps-network MLP hidden sizes (upstream ``Model``: 3 x 256)."""
    time_dim: int = 32
    """Sinusoidal time-embedding size (upstream 32, then Linear(32, 256) -> mish -> Linear(256, 32))."""
    critic_hidden: tuple[int, ...] = (256, 256, 256)
    """Hidden sizes of each of the twin Q MLPs (upstream ``Critic``: 3 x 256)."""
    activation: str = "mish"
    """Hidden activation of every network (upstream: mish)."""

    # -- optimisation -----------------------------------------------------------------------------
    diffusion_lr: float = 1e-4
    """Adam learning rate of the eps-network (upstream ``--diffusion_lr``)."""
    critic_lr: float = 3e-4
    """Adam learning rate of the twin critic (upstream ``--critic_lr``)."""
    adam_eps: float = 1e-5
    """Adam epsilon of both optimisers (upstream 1e-5)."""
    grad_norm: float = 2.0
    """Global gradient-norm clip of actor and critic (upstream ``--ac_grad_norm 2.0``); 0 disables."""
    gamma: float = 0.99
    """Discount."""
    tau: float = 0.005
    """Polyak rate of the target critic and the EMA target policy (both every gradient step)."""
    policy_freq: int = 1
    """Actor update every ``policy_freq`` gradient steps (upstream 1)."""
    reward_scale: float = 1.0
    """Multiplier on rewards before they enter the replay buffer (upstream: none, 1.0)."""
    obs_norm: bool = False
    """Running observation normalisation (not upstream; the ``parallel`` preset turns it on)."""

    # -- data collection / update-to-data ---------------------------------------------------------
    batch_size: int = 256
    """Transitions per gradient step (critic batch; the actor draws its own batch of this size)."""
    replay_size: int = 1_000_000
    """Replay capacity in transitions over all envs (``ceil(replay_size / num_envs)`` per env)."""
    learning_starts: int = 10_000
    """Env steps of uniform random actions before the first update (upstream ``start_steps``)."""
    updates_per_env_step: float = 1.0
    """Gradient steps per collected env step (upstream 1): a vector step of N envs earns N times this
    (fractional credit carries over). Ignored when ``updates_per_vector_step > 0``."""
    updates_per_vector_step: float = 0.0
    """If > 0, gradient steps per vector step independent of the env count (``parallel`` preset;
    FastTD3-style); fractional values carry over."""

    # -- QVPO actor update ------------------------------------------------------------------------
    train_samples: int = 64
    """Candidate actions sampled per state for the actor update (upstream ``--train_sample``)."""
    q_transform: Literal["qadv", "qrelu", "qexpn", "qcut"] = "qadv"
    """Weight of the best candidate: ``qadv`` max(Q_best - mean_k Q_k, 0) (upstream default);
    ``qrelu`` max(Q_best, -q_neg) + q_neg; ``qexpn`` exp(beta * clip((Q_best - m) / s, -8, 8)) with
    running Q mean m / std s; ``qcut`` max(Q_best, cut)."""
    q_neg: float = 0.0
    """``qrelu`` shift (upstream ``--q_neg``)."""
    cut: float = 1.0
    """``qcut`` floor (upstream ``--cut``)."""
    beta: float = 1.0
    """``qexpn`` temperature (upstream ``--beta``)."""
    q_stats_rate: float = 0.001
    """``qexpn`` running Q mean/std update rate (upstream ``--alpha_mean`` / ``--alpha_std``)."""
    entropy_samples: int = 10
    """Uniform actions per state added to the actor loss (entropy regulariser; upstream 10)."""
    entropy_alpha: float = 0.02
    """Initial weight factor of the uniform actions (upstream ``--entropy_alpha``)."""
    entropy_alpha_min: float = 0.002
    """Floor of the linearly decaying ``entropy_alpha`` (upstream 0.002)."""
    schedule_env_steps: int = 1_000_000
    """Decay horizon of ``entropy_alpha`` in env steps: alpha = max(floor, alpha0 (1 - steps /
    schedule_env_steps)), so the floor is reached at 90 % of it with the defaults. Upstream uses its
    run budget (``--num_steps``, 1 M); set this to your run's budget (the agent does not know it)."""

    # -- acting -----------------------------------------------------------------------------------
    behavior_samples: int = 4
    """Candidates per state for the behaviour action, executed = argmax of min(Q1, Q2) (upstream 4)."""
    target_samples: int = 4
    """Candidates per next state from the EMA target policy for the TD target, chosen by the target
    critic (upstream 4)."""
    eval_samples: int = 32
    """Candidates per state of the ``best_of_32_by_q`` evaluation mode (upstream ``eval_sample``; the
    mode keeps its name only when this is 32)."""
    eval_extra: tuple[str, ...] = EVAL_MODES
    """Extra evaluation modes recorded next to the deterministic/stochastic columns: any of
    ``best_of_32_by_q`` (upstream's evaluation) and ``single_sample`` (one plain policy sample)."""
    timeout_fallback: Literal["current_obs", "reset_obs", "terminal"] = "current_obs"
    """Where the env gives no final observation, how time-outs are bootstrapped: from the current
    obs s_t (rsl_rl-style, default), from the reset obs (FastTD3), or not at all (upstream QVPO
    behaviour). Unused when the env reports final observations."""

    def validate(self) -> None:
        for name in ("n_timesteps", "batch_size", "train_samples", "behavior_samples", "target_samples",
                     "eval_samples", "policy_freq", "time_dim", "schedule_env_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.time_dim % 2:
            raise ValueError("time_dim must be even")
        if self.entropy_samples < 0 or self.learning_starts < 0 or self.replay_size < 1:
            raise ValueError("entropy_samples and learning_starts must be >= 0, replay_size >= 1")
        if self.updates_per_env_step < 0 or self.updates_per_vector_step < 0:
            raise ValueError("update rates must be >= 0")
        if self.updates_per_env_step == 0 and self.updates_per_vector_step == 0:
            raise ValueError("one of updates_per_env_step / updates_per_vector_step must be > 0")
        if not (0.0 < self.gamma <= 1.0 and 0.0 < self.tau <= 1.0):
            raise ValueError("gamma and tau must be in (0, 1]")
        if self.diffusion_lr <= 0 or self.critic_lr <= 0:
            raise ValueError("learning rates must be > 0")
        if not 0.0 <= self.entropy_alpha_min <= self.entropy_alpha:
            raise ValueError("need 0 <= entropy_alpha_min <= entropy_alpha")
        bad = [m for m in self.eval_extra if m not in EVAL_MODES]
        if bad:
            raise ValueError(f"unknown eval_extra modes {bad}; allowed: {', '.join(EVAL_MODES)}")


PRESETS: dict[str, dict[str, Any]] = {
    # Upstream main.py (--weighted --aug): the dataclass defaults.
    "upstream": {"batch_size": 256, "updates_per_env_step": 1.0, "updates_per_vector_step": 0.0,
                 "learning_starts": 10_000, "train_samples": 64, "replay_size": 1_000_000},
    # Thousands of GPU envs (baselines.md section 5.2): 4 gradient steps per vector step with batch 8192
    # is a sample reuse of 4 * 8192 / 4096 = 8 at 4096 envs; 16 candidates per state keep one actor
    # step at 8192 x 16 x 20 eps-net rows; 10 M transitions of replay (2.4 k per env at 4096 envs).
    "parallel": {"batch_size": 8192, "updates_per_vector_step": 4.0, "learning_starts": 40_960,
                 "train_samples": 16, "replay_size": 10_000_000, "obs_norm": True},
}


def preset_overrides(name: str) -> dict[str, Any]:
    """The override dict of preset ``name`` (for ``--set`` lines or sweep variants)."""
    if name not in PRESETS:
        raise KeyError(f"unknown QVPO preset {name!r}; known: {', '.join(PRESETS)}")
    return dict(PRESETS[name])


# CPU-sized settings. Upstream's per-update cost (256 x 64 x 20 eps-net rows of a 3 x 256 MLP, ~0.1
# TFLOP) is far beyond a 2-core CPU, so the toy / DMC entries shrink the networks, the number of
# candidates and the update ratio (DMC also the step sizes); the algorithm (weights, entropy term,
# best-of-K acting and targets, T = 20 cosine DDPM) is unchanged. See README, "Budgets".
TUNED: dict[str, dict[str, Any]] = {
    "preset:toy": {
        "actor_hidden": (64, 64, 64), "critic_hidden": (64, 64, 64), "activation": "silu", "batch_size": 128,
        "train_samples": 16, "learning_starts": 2_000, "updates_per_env_step": 0.125,
        "replay_size": 200_000, "schedule_env_steps": 200_000,
    },
    # DM Control on CPU (64 envs): besides the sizes, larger steps (critic / diffusion lr 1e-3, tau
    # 0.05) so that the critic's TD propagation (gamma 0.99, 1000-step episodes) fits in ~8 k
    # gradient steps; with upstream's tau 0.005 and lr the return stayed ~300-400 after 3 k steps.
    "preset:playground_dmc": {
        "actor_hidden": (64, 64, 64), "critic_hidden": (128, 128, 128), "activation": "silu", "batch_size": 128,
        "train_samples": 8, "learning_starts": 4_000, "updates_per_env_step": 0.25, "critic_lr": 1e-3,
        "diffusion_lr": 1e-3, "tau": 0.05, "replay_size": 1_000_000, "schedule_env_steps": 1_000_000,
    },
    "preset:isaaclab": dict(PRESETS["parallel"]),
    # Registry smoke test (tests/harness/test_harness_registry_smoke.py): tiny nets, short warm-up.
    "smoke": {
        "actor_hidden": (16, 16), "critic_hidden": (16, 16), "time_dim": 8, "activation": "silu", "batch_size": 32,
        "train_samples": 4, "learning_starts": 400, "updates_per_env_step": 0.125, "replay_size": 4_000,
        "schedule_env_steps": 2_000,
    },
}
