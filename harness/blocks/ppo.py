"""PPO's settings, rollout bookkeeping and update loop (rsl_rl's ``epochs x minibatches`` of
clipped-surrogate steps), shared by Gaussian PPO, CPPO (whose conditional PPO step is the same loop on
its Gaussian kernel) and any other algorithm that runs a PPO step on a Gaussian.

A host class provides ``self.buffer`` (a ``RolloutBuffer`` declaring a ``final_valid`` extra),
``self.cfg`` (a ``PPOLoopConfig``), ``self._norm(obs)``, ``self._value(obs_normalised) -> [..]``,
``self.optimizer``, and for checkpoints ``self.obs_norm`` (or None), ``self.kl_schedule``
(``AdaptiveKL``), ``self.gen`` and ``self.iterations`` (``RolloutMixin``'s annotations spell this contract out for the type checker).

Follows leggedrobotics/rsl_rl@c281c32 (``rsl_rl/algorithms/ppo.py``): adaptive-KL learning rate per
minibatch on the exact old/new Gaussian KL, clipped surrogate, clipped value loss, entropy bonus,
gradient-norm clipping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Literal

import torch

from ..agent import Transition
from ..buffers import RolloutBuffer, gae
from ..normalization import RunningNorm
from ..optim import AdaptiveKL, diag_gaussian_kl, set_lr
from .gaussian import clipped_surrogate, gaussian_entropy, gaussian_log_prob, value_loss

__all__ = ["PPOLoopConfig", "RolloutMixin", "PPOUpdateMixin", "BRAX_DMC_LOOP", "brax_dmc_structure"]


@dataclass(frozen=True)
class PPOLoopConfig:
    """What PPO's rollout and update loop (``PPOUpdateMixin``) reads; shared by
    Gaussian PPO and CPPO (whose conditional PPO step is the same loop), so both use the same names and
    defaults."""

    LEGACY_DEFAULTS: ClassVar[dict[str, object]] = {"grad_clip": "joint", "gae_horizon": 0, "advantage": "gae"}
    """Fields added after records existed, at the value that reproduces the older behaviour: left out of
    the config hash at that value (``harness.config.run_config_hash``), so those records still match.
    Subclasses extend it (``{**PPOLoopConfig.LEGACY_DEFAULTS, ...}``)."""

    num_envs: int = 0
    """Parallel training envs; 0 = the task's default."""
    num_steps: int = 24
    """Rollout length per env per iteration (rsl_rl ``num_steps_per_env``)."""
    epochs: int = 5
    """PPO passes over each rollout."""
    minibatches: int = 4
    """PPO minibatches per epoch."""
    clip: float = 0.2
    """PPO ratio clip epsilon (also used for the clipped value loss)."""
    gamma: float = 0.99
    """Discount."""
    lam: float = 0.95
    """GAE lambda."""
    value_coef: float = 1.0
    """Value-loss weight."""
    entropy_coef: float = 0.01
    """Entropy-bonus weight (of the trained Gaussian: PPO's policy, CPPO's kernel)."""
    lr: float = 1e-3
    """Initial Adam learning rate (adapted when schedule is 'adaptive')."""
    schedule: Literal["adaptive", "fixed"] = "adaptive"
    """rsl_rl's adaptive-KL learning-rate schedule on the exact old/new Gaussian KL, or a fixed rate."""
    desired_kl: float = 0.01
    """Target KL of the adaptive schedule."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip (see ``grad_clip``)."""
    grad_clip: Literal["joint", "separate", "none"] = "joint"
    """"joint": one norm over every trained parameter (this suite's behaviour so far); "separate": one
    norm per optimiser parameter group, i.e. actor and critic apart (rsl_rl@c281c32); "none": no
    clipping (Brax's default ``max_grad_norm=None``, used by Playground's DM Control config)."""
    clipped_value_loss: bool = True
    """Clip the value update around the rollout's values (rsl_rl default)."""
    critic_hidden: tuple[int, ...] = (256, 128, 128)
    """Critic MLP hidden sizes."""
    activation: str = "elu"
    """Hidden activation (elu as rsl_rl)."""
    obs_norm: bool = True
    """Running observation normalisation (rsl_rl ``empirical_normalization``; updated at the end of
    ``update`` only)."""
    reward_scale: float = 1.0
    """Multiplier on rewards before GAE (Brax ``reward_scaling``)."""
    adv_norm: Literal["rollout", "minibatch", "none"] = "rollout"
    """Advantage normalisation over the whole rollout (rsl_rl default) or per minibatch (Brax)."""
    gae_horizon: int = 0
    """0: GAE runs over the whole ``num_steps`` rollout. k > 0: the rollout is cut into segments of k
    steps (``num_steps`` must be a multiple), each bootstrapping from V of its last next-observation,
    as Brax's ``unroll_length`` segments (Brax recomputes them per minibatch with the current critic;
    here they use the critic at the start of the update)."""
    advantage: Literal["gae", "brax"] = "gae"
    """Policy advantage: GAE(lambda) (rsl_rl, and the value targets either way), or Brax's
    ``r_t + gamma (1 - terminated) vs_{t+1} - V(s_t)`` with ``vs`` the GAE value target, i.e. delta_t
    plus gamma (not gamma * lambda) times the next step's GAE, which ends at a segment or episode end."""

    def validate(self) -> None:
        for name in ("num_steps", "epochs", "minibatches"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if not (0.0 < self.gamma <= 1.0 and 0.0 <= self.lam <= 1.0):
            raise ValueError("gamma must be in (0, 1] and lam in [0, 1]")
        if self.gae_horizon < 0 or (self.gae_horizon and self.num_steps % self.gae_horizon):
            raise ValueError(f"gae_horizon must be 0 or divide num_steps ({self.num_steps}), got {self.gae_horizon}")


BRAX_DMC_LOOP: dict[str, object] = {
    # MuJoCo Playground 0.2.0 ``config/dm_control_suite_params.py::brax_ppo_config`` run by
    # brax 0.14.2 ``training/agents/ppo/train.py`` + ``losses.py`` (baselines/ppo/README.md).
    "num_envs": 2048,            # num_envs
    "num_steps": 480,            # unroll_length 30 x (batch_size 1024 x num_minibatches 32 / num_envs 2048) unrolls
    "gae_horizon": 30,           # unroll_length: GAE per 30-step segment, bootstrapped at its end
    "epochs": 16,                # num_updates_per_batch
    "minibatches": 32,           # num_minibatches (each 1024 segments x 30 steps = 30,720 samples)
    "clip": 0.3,                 # clipping_epsilon (Brax default)
    "gamma": 0.995,              # discounting (0.95 for BallInCup and FingerSpin: per-task entries)
    "lam": 0.95,                 # gae_lambda (Brax default)
    "value_coef": 0.25,          # Brax's value loss is 0.5 * vf_loss_coefficient (0.5) * MSE
    "entropy_coef": 0.01,        # entropy_cost
    "lr": 1e-3,                  # learning_rate
    "schedule": "fixed",         # learning_rate_schedule None: no adaptive KL
    "clipped_value_loss": False,  # clipping_epsilon_value None
    "grad_clip": "none",         # max_grad_norm None
    "reward_scale": 10.0,        # reward_scaling
    "adv_norm": "minibatch",     # normalize_advantage, inside the loss, per minibatch
    "advantage": "brax",         # compute_gae's advantages: r + gamma vs_{t+1} - V, not GAE(lambda)
    "obs_norm": True,            # normalize_observations
    "critic_hidden": (256,) * 5,  # make_ppo_networks default value_hidden_layer_sizes
    "activation": "swish",       # make_ppo_networks default activation (linen.swish)
}
"""PPO's outer loop at Playground's DM Control Brax PPO config, as ``PPOLoopConfig`` fields; Gaussian
PPO's and CPPO's ``preset:brax_dmc`` entries start from it."""


def brax_dmc_structure(cfg: PPOLoopConfig) -> dict[str, int]:
    """Env steps, gradient steps and minibatch samples per update of a loop config (to compare with
    Brax's ``env_step_per_training_step = batch_size * unroll_length * num_minibatches`` and its
    ``num_updates_per_batch * num_minibatches`` SGD steps)."""
    env_steps = cfg.num_envs * cfg.num_steps
    return {"env_steps_per_update": env_steps, "gradient_steps_per_update": cfg.epochs * cfg.minibatches,
            "minibatch_samples": env_steps // cfg.minibatches}



class RolloutMixin:
    """``observe`` / ``ready`` / ``_advantages`` and the shared checkpoint state of agents that learn
    from one full rollout. The annotations below are the contract with the class that mixes it in
    (checked by mypy): it sets these attributes in ``__init__`` and defines ``_norm`` and ``_value``."""

    cfg: Any
    """A ``PPOLoopConfig`` (or a subclass)."""
    buffer: RolloutBuffer
    optimizer: torch.optim.Optimizer
    """Adam over the trained Gaussian's and the critic's parameters."""
    obs_norm: RunningNorm | None
    kl_schedule: AdaptiveKL
    gen: torch.Generator
    iterations: int

    def _norm(self, obs: torch.Tensor) -> torch.Tensor:
        """Observation normalisation of the host."""
        raise NotImplementedError

    def _value(self, obs_n: torch.Tensor) -> torch.Tensor:
        """The host's critic on normalised observations, ``[..]``."""
        raise NotImplementedError

    def observe(self, t: Transition) -> None:
        """Store one vector step (rewards scaled by ``cfg.reward_scale``) plus the agent's extras."""
        self.buffer.add(
            obs=t.obs, next_obs=t.next_obs, actions=t.action, rewards=t.reward * self.cfg.reward_scale,
            terminated=t.terminated, truncated=t.truncated,
            final_valid=torch.full_like(t.reward, float(t.final_obs_valid)), **t.extras,
        )
        self.buffer.last_obs = t.carry_obs

    def ready(self) -> bool:
        """True once the rollout holds ``num_steps`` vector steps."""
        return self.buffer.full

    @torch.no_grad()
    def _advantages(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(values, advantages, returns)`` of the stored rollout under the current critic.

        Time-outs bootstrap from V(final obs); without a final observation (IsaacLab) they use
        rsl_rl's fallback V(s_t). With ``cfg.gae_horizon = k > 0`` the recursion is also cut after every
        k-th step, which then bootstraps from V(next obs) (Brax's unroll segments)."""
        b, cfg = self.buffer, self.cfg
        values = self._value(self._norm(b["obs"]))
        next_values = self._value(self._norm(b["next_obs"]))
        next_values = torch.where(b["final_valid"] > 0, next_values, values)
        done = b["terminated"] | b["truncated"]
        horizon = getattr(cfg, "gae_horizon", 0)
        if horizon:
            seg_end = torch.arange(done.shape[0], device=done.device) % horizon == horizon - 1
            done = done | seg_end.unsqueeze(-1)
        adv, returns = gae(b["rewards"], values, next_values, b["terminated"], done, cfg.gamma, cfg.lam)
        if getattr(cfg, "advantage", "gae") == "brax":
            # r_t + gamma (1 - term) vs_{t+1} - V_t, vs = V + GAE the value target: delta_t plus the next
            # step's GAE discounted by gamma only (brax losses.compute_gae's ``advantages``).
            following = torch.cat([adv[1:], torch.zeros_like(adv[:1])])
            not_term, not_done = 1.0 - b["terminated"].float(), 1.0 - done.float()
            delta = b["rewards"] + cfg.gamma * not_term * next_values - values
            adv = delta + cfg.gamma * not_done * following
        return values, adv, returns

    checkpointed: tuple[str, ...] = ()
    """Attributes (modules, optimisers) whose ``state_dict`` the default checkpoint methods save."""

    def state_dict(self) -> dict[str, Any]:
        """``checkpointed`` attributes' states plus the shared rollout state."""
        return {name: getattr(self, name).state_dict() for name in self.checkpointed} | self._rollout_state()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore networks, optimiser, normaliser, lr, generator and the rollout in progress."""
        for name in self.checkpointed:
            getattr(self, name).load_state_dict(state[name])
        self._load_rollout_state(state)

    def restart_episodes(self) -> None:
        """The runner restarted the training envs from a fresh reset (a resume without env state, e.g.
        IsaacLab): drop the partial rollout, whose steps would chain into unrelated trajectories."""
        self.buffer.clear()

    def _rollout_state(self) -> dict:
        """Checkpoint entries every rollout agent has: normaliser, adaptive lr, generator, iteration
        count and the rollout in progress (checkpoints are taken at evaluation points, mid-rollout)."""
        return {
            "obs_norm": self.obs_norm.state_dict() if self.obs_norm is not None else None,
            "lr": self.kl_schedule.lr, "gen": self.gen.get_state(), "iterations": self.iterations,
            "rollout": self.buffer.state_dict(),
        }

    def _load_rollout_state(self, state: dict) -> None:
        """Restore what ``_rollout_state`` saved (a checkpoint without a rollout, from before it was
        saved, starts a fresh one)."""
        if self.obs_norm is not None and state["obs_norm"] is not None:
            self.obs_norm.load_state_dict(state["obs_norm"])
        self.kl_schedule.lr = state["lr"]
        self.gen.set_state(state["gen"].cpu())
        self.iterations = state["iterations"]
        if state.get("rollout") is not None:
            self.buffer.load_state_dict(state["rollout"])
        else:
            self.buffer.clear()


Minibatch = dict[str, torch.Tensor]


class PPOUpdateMixin(RolloutMixin):
    """``RolloutMixin`` plus the PPO step. The host also provides ``self.optimizer`` (Adam over the
    trained Gaussian's and the critic's parameters) and a config with PPO's fields (``epochs``,
    ``minibatches``, ``clip``, ``schedule``, ``adv_norm``, ``value_coef``, ``entropy_coef``,
    ``max_grad_norm``, ``clipped_value_loss``); the buffer stores ``raw_actions``, ``log_probs``,
    ``means`` and ``stds`` of the Gaussian that acted."""

    def _ppo_batch(self, **fields: torch.Tensor) -> dict[str, torch.Tensor]:
        """The rollout as PPO minibatch fields: normalised obs, the acting Gaussian's stored actions and
        parameters, values, advantages (normalised over the rollout when ``adv_norm == "rollout"``),
        returns; plus ``fields``."""
        b = self.buffer
        values, adv, returns = self._advantages()
        if self.cfg.adv_norm == "rollout":
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        return {
            "obs": self._norm(b["obs"]), "raw_actions": b["raw_actions"], "log_probs": b["log_probs"],
            "means": b["means"], "stds": b["stds"], "values": values, "adv": adv, "returns": returns, **fields,
        }

    def _ppo_epochs(
        self,
        data: dict[str, torch.Tensor],
        dist_params: Callable[[Minibatch], tuple[torch.Tensor, torch.Tensor]],
        value: Callable[[Minibatch], torch.Tensor],
        extra_loss: Callable[[Minibatch, torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]]
        | None = None,
        entropy: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        schedule_kl: Callable[[torch.Tensor], float] | None = lambda kl: kl.item(),
    ) -> tuple[dict[str, float], int, torch.Tensor | None]:
        """Run the PPO epochs over ``data``; returns (mean statistics, minibatch count, ratios of the first
        minibatch).

        ``dist_params(mb)`` gives the trained Gaussian's mean and std at the minibatch (PPO: the policy;
        CPPO: the kernel at the stored a0), ``value(mb)`` the critic's values; ``extra_loss(mb, mean, std)``
        returns a term added to the loss and detached statistics to average (CPPO: the score
        regulariser). ``entropy(mean, std) -> [B]`` replaces the Gaussian's closed form (Gaussian PPO's
        tanh-Normal: Brax's one-sample estimate). ``schedule_kl(kl)`` is what the adaptive-KL rule sees
        per minibatch (default: the exact old/new KL; CPPO may scale it); ``None``: no per-minibatch
        adaptation (the host adapts the lr elsewhere, e.g. once per iteration). Gradients are clipped as ``cfg.grad_clip`` says: over
        all of ``self.optimizer``'s parameters ("joint"), per parameter group ("separate": the host puts
        actor and critic in separate groups), or not at all. Statistics stay on the device: one host
        sync per minibatch, for the adaptive lr.
        """
        cfg = self.cfg
        clip_mode = getattr(cfg, "grad_clip", "joint")
        groups = [list(group["params"]) for group in self.optimizer.param_groups]
        clip_sets = {"joint": [[p for g in groups for p in g]], "separate": groups, "none": []}[clip_mode]
        stats: dict[str, torch.Tensor | float] = dict.fromkeys(
            ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"), 0.0
        )
        n = 0
        first_ratio: torch.Tensor | None = None
        for _ in range(cfg.epochs):
            for mb in self.buffer.minibatches(data, cfg.minibatches, self.gen):
                mean, std = dist_params(mb)
                log_prob = gaussian_log_prob(mb["raw_actions"], mean, std)
                with torch.no_grad():
                    kl = diag_gaussian_kl(mb["means"], mb["stds"], mean, std).mean()
                if cfg.schedule == "adaptive" and schedule_kl is not None:
                    set_lr(self.optimizer, self.kl_schedule.step(schedule_kl(kl)))
                a = mb["adv"]
                if cfg.adv_norm == "minibatch":
                    a = (a - a.mean()) / (a.std() + 1e-8)
                pol_loss, ratio = clipped_surrogate(log_prob, mb["log_probs"], a, cfg.clip)
                v_loss = value_loss(value(mb), mb["values"], mb["returns"], cfg.clip, cfg.clipped_value_loss)
                ent = (gaussian_entropy(std) if entropy is None else entropy(mean, std)).mean()
                loss = pol_loss + cfg.value_coef * v_loss - cfg.entropy_coef * ent
                extra: dict[str, torch.Tensor] = {}
                if extra_loss is not None:
                    term, extra = extra_loss(mb, mean, std)
                    loss = loss + term
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                for clip_set in clip_sets:
                    torch.nn.utils.clip_grad_norm_(clip_set, cfg.max_grad_norm)
                self.optimizer.step()
                with torch.no_grad():
                    if first_ratio is None:
                        first_ratio = ratio.detach()
                    for key, val in (("policy_loss", pol_loss), ("value_loss", v_loss), ("entropy", ent),
                                     ("approx_kl", kl),
                                     ("clip_fraction", ((ratio - 1.0).abs() > cfg.clip).float().mean()),
                                     *extra.items()):
                        stats[key] = stats.get(key, 0.0) + val.detach()
                n += 1
        return {k: float(v) / n for k, v in stats.items()}, n, first_ratio
