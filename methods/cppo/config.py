"""CPPO hyperparameters. Facts vs reconstruction: see /work/shared/reference/cppo.md and README.md.

The PPO part is ``harness.blocks.ppo.PPOLoopConfig``, shared with Gaussian PPO (same names, same
defaults), so that CPPO and Gaussian PPO differ only in the policy class. Every reconstructed choice of
the method is a field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from harness.blocks.ppo import BRAX_DMC_LOOP, PPOLoopConfig

__all__ = ["CPPOConfig", "TUNED"]


@dataclass(frozen=True)
class CPPOConfig(PPOLoopConfig):
    """CPPO: Gaussian PPO's loop settings (``PPOLoopConfig``: rollout, conditional PPO on the kernel,
    critic; same names and defaults except ``entropy_coef``) plus the method's switches."""

    LEGACY_DEFAULTS: ClassVar[dict[str, object]] = {
        **PPOLoopConfig.LEGACY_DEFAULTS, "kernel_base": "langevin", "kl_source": "kernel",
        "kernel_reset_adam": "drop", "fit_every": 1, "lr_max": 1e-2, "diag_states": 16, "diag_samples": 16,
    }
    """Fields added after records existed, at the value that reproduces the older behaviour: left out of
    the config hash at that value (``harness.config.run_config_hash``), so those records still match."""

    entropy_coef: float = 0.0
    """Weight c_H of the kernel's Gaussian entropy (0 as Gaussian PPO's toy and playground_dmc presets;
    ``preset:isaaclab`` and ``preset:brax_dmc`` set 0.005; before issue 13: 0.005 everywhere)."""
    # -- the method's switches (cppo.md "Reconstruction") ----------------------------------------
    flow_steps: int = 8
    """Euler steps K of the flow sampler (paper: 8 or 16)."""
    ema_tau: float = 0.5
    """Reference update ``phi_ref <- (1 - tau) phi_ref + tau phi`` after each distillation (1 = copy)."""
    langevin_step: float = 0.05
    """h: the kernel's prior is one Langevin step toward N(0, I): mean (1 - h) a0, variance 2h."""
    kernel_base: Literal["langevin", "identity"] = "identity"
    """Base of the kernel mean: ``a0`` (default since issue 13: the Langevin prior ``N((1 - h) a0, 2h)``
    acts only through the score regulariser) or ``(1 - h) a0`` (one Langevin step toward N(0, I) in the
    parameterisation, cppo.md; shrinks the policy every iteration, issue 13 finding 1)."""
    kernel_std: Literal["param", "state"] = "param"
    """Kernel std: a state-independent log-std vector, or a state- and a0-dependent head."""
    kernel_hidden: tuple[int, ...] = (256, 256, 256)
    """Hidden sizes of the kernel's residual mean net g(s, a0)."""
    score_reg: Literal["kl", "mean", "off"] = "mean"
    """Score regulariser: KL(kernel || N((1-h) a0, 2h I)) (cppo.md's default), only its mean term (adopted
    default: with a learned std the KL's std term would pin sigma to sqrt(2h); README "Ablation"), or none."""
    score_coef: float = 0.1
    """Weight c_s of the score regulariser."""
    distill_targets: Literal["new_kernel", "new_mean", "executed"] = "new_mean"
    """Flow-matching targets: fresh samples of the improved kernel at the stored a0; the improved kernel's
    mean at a0 (our addition: the flow learns the transport a0 -> mu_new(s, a0) and the kernel alone carries
    the exploration noise; adopted default, README "Ablation"; cppo.md's default is "new_kernel"); or the
    rollout's actions."""
    distill_noise: Literal["fresh", "coupled"] = "fresh"
    """Source points of flow matching: fresh x0 ~ N(0, I) (independent coupling, as the paper), or the
    stored rollout noise x0 that produced each a0 (the coupling x0 -> a0 -> a*; preserves the policy's
    spread, learns slower: see README "Ablation")."""
    distill_epochs: int = 15
    """Flow-matching passes over the rollout per iteration."""
    distill_minibatches: int = 4
    """Flow-matching minibatches per pass."""
    flow_lr: float = 3e-4
    """Adam learning rate of the flow (persistent optimiser)."""
    flow_hidden: tuple[int, ...] = (256, 256, 256)
    """Velocity net v(s, x, t) hidden sizes."""
    flow_activation: str = "silu"
    """Velocity net activation."""
    time_emb_dim: int = 32
    """Sinusoidal time-embedding size of the velocity net."""
    kernel_reset: Literal["head", "mean", "delta", "none"] = "delta"
    """After distillation: zero g's last layer and reset the std (with their Adam state); "mean": zero g's
    last layer only, the learned std persists across iterations (our addition; the default before issue
    13; cppo.md's default is "head"); "delta" (default since issue 13): g is measured from a frozen copy
    of itself, re-synced here, so its offset restarts at zero while all its layers and Adam moments
    persist and the std persists (our addition, README "Deviations" 8); or keep the kernel."""
    kernel_reset_adam: Literal["drop", "soft"] = "drop"
    """Adam state of what ``kernel_reset`` "head"/"mean" zeroes: "drop" it (so the first step after the
    reset is a sign-like step of size lr on every head weight, issue 13 finding 5), or "soft": zero its
    first moment only and keep the second moment and step count (no stale direction, no sign kick: the
    first step is about (1 - beta1) lr in units of the recent gradient scale). No effect with "delta"
    (which keeps all state) or "none"."""
    kl_source: Literal["kernel", "scaled", "realised"] = "realised"
    """What the adaptive-KL learning rate (``schedule="adaptive"``) steers. "kernel": rsl_rl's rule per
    minibatch on the exact old/new kernel KL at the stored a0 (the reconstruction so far: only about
    ``ema_tau``^2 of that step reaches the acting policy, issue 13 finding 2); "scaled": the same rule on
    the kernel KL times ``ema_tau``^2 (the target scaled by the EMA); "realised": the rule applied once
    per iteration, after distillation, EMA and kernel reset, to ``realised_kl`` (the acting policy's KL
    between consecutive rollouts, diagnostics below; needs ``diag_states > 0``); the lr is constant
    within an iteration. Default since issue 13: "realised" (before: "kernel")."""
    lr_max: float = 1e-2
    """Ceiling of the adaptive-KL learning rate (rsl_rl's 1e-2). With ``kl_source="realised"`` and
    ``ema_tau`` < 1 the ceiling, not the target, can bind: the acting policy then moves less than
    ``desired_kl`` (README "CPPO v2")."""
    kernel_init_std: float = 1.0
    """Initial (and "head"-reset) kernel std. 1.0 (default since issue 13; rsl_rl's init_noise_std) starts
    the policy at N(0, 2 I) with ``kernel_base="identity"`` (N(0, 1.9 I) with "langevin"); 0 = sqrt(2h),
    the Langevin step's (cppo.md), which with ``kernel_base="langevin"`` makes the initial policy N(0, I)
    (README "Ablation")."""
    eval_policy: Literal["flow+kernel", "flow"] = "flow+kernel"
    """Policy the standard deterministic/stochastic evaluation uses; the other one is an extra eval mode."""
    eval_stochastic_extra: bool = False
    """Also evaluate the other policy stochastically (extra eval mode '<name>_stochastic')."""
    fit_states: int = 32
    """Held-out rollout states (excluded from distillation) for the fitting-error diagnostic (0 = off)."""
    fit_samples: int = 16
    """Samples per held-out state for the sliced Wasserstein fitting error."""
    fit_projections: int = 16
    """Random projections of the sliced Wasserstein distance."""
    fit_every: int = 1
    """Compute the fitting error every n-th iteration. It samples from the training generator, so any
    value but 1 changes the training trajectory's random numbers (not the method)."""
    diag_states: int = 16
    """Rollout states (drawn with the diagnostics' own generator) at which the spread and realised-KL
    diagnostics sample the acting policy (README "Diagnostics"); 0 = off. They never touch the training
    generator or the parameters: the trajectory is the same with them on or off (tested)."""
    diag_samples: int = 16
    """Samples of the acting policy per diagnostic state (x0 draws; the marginal-KL estimate uses a
    second, independent set of as many as mixture components)."""

    def validate(self) -> None:
        super().validate()
        for name in ("flow_steps", "distill_epochs", "distill_minibatches", "fit_samples", "fit_projections",
                     "fit_every", "diag_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if not (0.0 < self.ema_tau <= 1.0):
            raise ValueError("ema_tau must be in (0, 1]")
        if not (0.0 < self.langevin_step < 0.5):
            raise ValueError("langevin_step must be in (0, 0.5)")
        if self.lr <= 0 or self.flow_lr <= 0:
            raise ValueError("lr and flow_lr must be > 0")
        if self.lr_max < self.lr:
            raise ValueError(f"lr_max ({self.lr_max}) must be >= lr ({self.lr})")
        if self.fit_states < 0 or self.score_coef < 0 or self.entropy_coef < 0 or self.kernel_init_std < 0:
            raise ValueError("fit_states, score_coef, entropy_coef and kernel_init_std must be >= 0")
        if self.time_emb_dim % 2:
            raise ValueError("time_emb_dim must be even")
        if self.diag_states < 0:
            raise ValueError("diag_states must be >= 0")
        if self.diag_samples < 2:
            raise ValueError("diag_samples must be >= 2 (a within-state std needs two samples)")
        if self.kl_source == "realised" and self.diag_states == 0:
            raise ValueError("kl_source='realised' needs the realised-KL diagnostic: diag_states > 0")
        if self.kl_source != "kernel" and self.schedule != "adaptive":
            raise ValueError(
                f"kl_source={self.kl_source!r} steers the adaptive lr: needs schedule='adaptive'; with "
                f"schedule={self.schedule!r} set kl_source='kernel' (no effect on a fixed lr)"
            )


TUNED: dict[str, dict[str, object]] = {
    # Minimal cost for the registry smoke test (tests/harness/test_harness_registry_smoke.py) only.
    "smoke": {"num_steps": 16, "critic_hidden": (32, 32), "kernel_hidden": (32, 32), "flow_hidden": (32, 32),
              "epochs": 2, "distill_epochs": 2, "flow_steps": 4},
    # Toy tasks: small nets as Gaussian PPO's toy preset (same rollout and PPO epochs).
    "preset:toy": {
        "num_steps": 16, "critic_hidden": (64, 64), "kernel_hidden": (64, 64), "flow_hidden": (64, 64),
        "epochs": 5, "minibatches": 4, "lr": 1e-3, "flow_lr": 1e-3,
    },
    # Playground DM Control on a CPU-sized batch: Gaussian PPO's playground_dmc preset for the PPO part.
    "preset:playground_dmc": {
        "num_steps": 32, "epochs": 5, "minibatches": 4, "gamma": 0.99, "lam": 0.95,
        "critic_hidden": (256, 256), "kernel_hidden": (128, 128), "flow_hidden": (128, 128), "lr": 1e-3,
    },
    # Playground's DM Control Brax PPO outer loop (Gaussian PPO's preset:brax_dmc, harness.blocks.ppo
    # BRAX_DMC_LOOP: envs, rollout, epochs, minibatches, gamma, clip, loss weights, lr, no value or
    # gradient clipping, reward scale 10) with CPPO's own policy: flow and kernel nets keep their CPPO
    # values; the kernel's entropy weight is 0.005 (Brax's 0.01 is for a Gaussian actor's entropy).
    # Brax's lr is fixed, so no KL steers it (kl_source "kernel": the value that has no effect then).
    "preset:brax_dmc": {**BRAX_DMC_LOOP, "entropy_coef": 0.005, "kl_source": "kernel"},
    # "CPPO v2" (issue 13): every mechanical handicap of the reconstruction removed; the registry
    # defaults since the 10-seed x 3-task ablation (methods/cppo/README.md, "The defaults"). The preset
    # pins them (``--set preset=cppo_v2``; sweep specs: ``config = { preset = "cppo_v2" }``) so that a
    # spec keeps its meaning if the defaults change again; it sets the same values as the defaults.
    # Langevin prior only in the score regulariser (finding 1); adaptive lr on the acting policy's realised
    # KL (finding 2); exploration by a learned, persistent, state-independent kernel std started at 1 as
    # Gaussian PPO's (kept outside the flow: mean distillation, "delta" reset never touches it), while a0's
    # own spread decays under fresh-noise distillation (finding 3; the alternative keeps a0's spread with
    # distill_noise="coupled", kernel_init_std=0); kernel reset without dropping Adam state (finding 5);
    # entropy as Gaussian PPO's toy and playground_dmc presets (0; on IsaacLab add entropy_coef=0.005).
    "preset:cppo_v2": {
        "kernel_base": "identity", "kl_source": "realised", "kernel_reset": "delta", "distill_targets": "new_mean",
        "distill_noise": "fresh", "kernel_init_std": 1.0, "score_reg": "mean", "entropy_coef": 0.0,
    },
    # The registry defaults before issue 13 (commit 44dfddd and earlier: Langevin base, per-minibatch
    # adaptive lr on the kernel's KL, "mean" reset, std from sqrt(2h), entropy 0.005). Specs whose stored
    # records were made with those defaults pin them with ``config = { preset = "cppo_v1" }``, so that
    # re-running them extends their records instead of refusing a config mismatch
    # (tests/harness/test_harness_specs_match_records.py).
    "preset:cppo_v1": {
        "kernel_base": "langevin", "kl_source": "kernel", "kernel_reset": "mean", "distill_targets": "new_mean",
        "distill_noise": "fresh", "kernel_init_std": 0.0, "score_reg": "mean", "entropy_coef": 0.005,
    },
    # IsaacLab: rsl_rl shared settings for the PPO part; the paper's "15 epochs, 4 minibatches".
    # Entropy 0.005 as Gaussian PPO's isaaclab preset (and CPPO's default before issue 13).
    "preset:isaaclab": {"num_steps": 24, "epochs": 5, "minibatches": 4, "critic_hidden": (512, 256, 128),
                        "entropy_coef": 0.005,
                        "kernel_hidden": (512, 256, 128), "flow_hidden": (512, 256, 256)},
    # IsaacLab 3.0 Cartpole: Gaussian PPO's rsl_rl cartpole shape for the PPO part (16 steps/env, [32, 32]
    # critic and kernel, no obs normalisation); a small flow.
    "isaaclab/Cartpole": {"num_steps": 16, "critic_hidden": (32, 32), "kernel_hidden": (32, 32),
                          "flow_hidden": (64, 64), "obs_norm": False},
}
