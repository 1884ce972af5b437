"""Hard-coded task tables of the MuJoCo Playground suite (playground 0.2.0).

Nothing here imports jax or mujoco_playground: ``dpbench list`` and task registration must stay
cheap and must work where the ``playground`` extra is not installed. The values were read from
``registry.get_default_config(name)`` of playground 0.2.0 (episode_length, action_repeat, ctrl_dt)
and from the instantiated DM Control envs (observation and action sizes).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "PlaygroundTask",
    "DMC_TASKS",
    "LOCOMOTION_TASKS",
    "MANIPULATION_TASKS",
    "ALL_TASKS",
    "MENAGERIE_COMMIT",
    "UPSTREAM_BUDGETS",
]

MENAGERIE_COMMIT = "1b86ece576591213e2b666ebf59508454200ca97"
"""The mujoco_menagerie commit playground 0.2.0 pins (``mjx_env.MENAGERIE_COMMIT_SHA``)."""


@dataclass(frozen=True)
class PlaygroundTask:
    """Static facts of one Playground env (as in its default config)."""

    name: str
    """Playground registry name, e.g. ``"CartpoleBalance"``."""
    group: str
    """``"dm_control_suite"``, ``"locomotion"`` or ``"manipulation"``."""
    episode_length: int
    """Time limit in agent steps (the default config's ``episode_length``)."""
    action_repeat: int
    """The default config's ``action_repeat`` (env steps per agent step)."""
    ctrl_dt: float
    """Control period of one env step in seconds."""
    obs_dim: int | None = None
    """Observation size (``"state"`` for dict observations); None where not recorded."""
    action_dim: int | None = None
    """Action size; None where not recorded."""

    @property
    def needs_menagerie(self) -> bool:
        """Whether loading the env needs the mujoco_menagerie assets (locomotion, manipulation)."""
        return self.group != "dm_control_suite"


def _dmc(name: str, obs: int, act: int, ctrl_dt: float) -> PlaygroundTask:
    return PlaygroundTask(name, "dm_control_suite", 1000, 1, ctrl_dt, obs, act)


# The 25 DM Control Suite ports: self-contained (XMLs in the wheel), never terminate early (done
# only on NaN), episode_length 1000, action_repeat 1, per-step reward in [0, 1].
DMC_TASKS: tuple[PlaygroundTask, ...] = (
    _dmc("AcrobotSwingup", 6, 1, 0.01),
    _dmc("AcrobotSwingupSparse", 6, 1, 0.01),
    _dmc("BallInCup", 8, 2, 0.02),
    _dmc("CartpoleBalance", 5, 1, 0.01),
    _dmc("CartpoleBalanceSparse", 5, 1, 0.01),
    _dmc("CartpoleSwingup", 5, 1, 0.01),
    _dmc("CartpoleSwingupSparse", 5, 1, 0.01),
    _dmc("CheetahRun", 17, 6, 0.01),
    _dmc("FingerSpin", 9, 2, 0.02),
    _dmc("FingerTurnEasy", 12, 2, 0.02),
    _dmc("FingerTurnHard", 12, 2, 0.02),
    _dmc("FishSwim", 24, 5, 0.04),
    _dmc("HopperHop", 15, 4, 0.02),
    _dmc("HopperStand", 15, 4, 0.02),
    _dmc("HumanoidStand", 67, 21, 0.025),
    _dmc("HumanoidWalk", 67, 21, 0.025),
    _dmc("HumanoidRun", 67, 21, 0.025),
    _dmc("PendulumSwingup", 3, 1, 0.02),
    _dmc("PointMass", 4, 2, 0.02),
    _dmc("ReacherEasy", 6, 2, 0.02),
    _dmc("ReacherHard", 6, 2, 0.02),
    _dmc("SwimmerSwimmer6", 25, 5, 0.03),
    _dmc("WalkerRun", 24, 6, 0.025),
    _dmc("WalkerStand", 24, 6, 0.025),
    _dmc("WalkerWalk", 24, 6, 0.025),
)


def _loco(name: str, episode_length: int = 1000) -> PlaygroundTask:
    return PlaygroundTask(name, "locomotion", episode_length, 1, 0.02)


# The 19 locomotion envs (need mujoco_menagerie). Dict observations: the policy sees "state".
LOCOMOTION_TASKS: tuple[PlaygroundTask, ...] = (
    _loco("ApolloJoystickFlatTerrain"),
    _loco("BarkourJoystick"),
    _loco("BerkeleyHumanoidJoystickFlatTerrain"),
    _loco("BerkeleyHumanoidJoystickRoughTerrain"),
    _loco("G1JoystickFlatTerrain"),
    _loco("G1JoystickRoughTerrain"),
    _loco("Go1JoystickFlatTerrain"),
    _loco("Go1JoystickRoughTerrain"),
    _loco("Go1Getup", 300),
    _loco("Go1Handstand", 500),
    _loco("Go1Footstand", 500),
    _loco("H1InplaceGaitTracking"),
    _loco("H1JoystickGaitTracking"),
    _loco("Op3Joystick"),
    _loco("SpotFlatTerrainJoystick"),
    _loco("SpotGetup", 300),
    _loco("SpotJoystickGaitTracking"),
    _loco("T1JoystickFlatTerrain"),
    _loco("T1JoystickRoughTerrain"),
)

# The 10 manipulation envs (need mujoco_menagerie).
MANIPULATION_TASKS: tuple[PlaygroundTask, ...] = (
    PlaygroundTask("AlohaHandOver", "manipulation", 250, 1, 0.02),
    PlaygroundTask("AlohaSinglePegInsertion", "manipulation", 1000, 2, 0.0025),
    PlaygroundTask("PandaPickCube", "manipulation", 150, 1, 0.02),
    PlaygroundTask("PandaPickCubeOrientation", "manipulation", 150, 1, 0.02),
    PlaygroundTask("PandaPickCubeCartesian", "manipulation", 200, 1, 0.05),
    PlaygroundTask("PandaOpenCabinet", "manipulation", 150, 1, 0.02),
    PlaygroundTask("PandaRobotiqPushCube", "manipulation", 3000, 4, 0.005),
    PlaygroundTask("LeapCubeReorient", "manipulation", 1000, 1, 0.05),
    PlaygroundTask("LeapCubeRotateZAxis", "manipulation", 500, 1, 0.05),
    PlaygroundTask("AeroCubeRotateZAxis", "manipulation", 500, 1, 0.05),
)

ALL_TASKS: dict[str, PlaygroundTask] = {
    t.name: t for t in DMC_TASKS + LOCOMOTION_TASKS + MANIPULATION_TASKS
}

# Upstream Brax-PPO budgets of playground 0.2.0 (``config/locomotion_params.py`` and
# ``config/manipulation_params.py``): (num_timesteps, num_envs). GPU-sized: these tasks need a
# GPU (and menagerie) to be practical.
UPSTREAM_BUDGETS: dict[str, tuple[int, int]] = {
    **{t.name: (100_000_000, 8192) for t in LOCOMOTION_TASKS},
    "Go1JoystickFlatTerrain": (200_000_000, 8192),
    "Go1JoystickRoughTerrain": (200_000_000, 8192),
    "Go1Getup": (50_000_000, 8192),
    "G1JoystickFlatTerrain": (200_000_000, 8192),
    "G1JoystickRoughTerrain": (200_000_000, 8192),
    "BerkeleyHumanoidJoystickFlatTerrain": (150_000_000, 8192),
    "BerkeleyHumanoidJoystickRoughTerrain": (150_000_000, 8192),
    "T1JoystickFlatTerrain": (200_000_000, 8192),
    "T1JoystickRoughTerrain": (200_000_000, 8192),
    "ApolloJoystickFlatTerrain": (200_000_000, 8192),
    "AlohaHandOver": (100_000_000, 2048),
    "AlohaSinglePegInsertion": (150_000_000, 1024),
    "PandaPickCube": (20_000_000, 2048),
    "PandaPickCubeOrientation": (20_000_000, 2048),
    "PandaPickCubeCartesian": (5_000_000, 1024),
    "PandaOpenCabinet": (40_000_000, 2048),
    "PandaRobotiqPushCube": (1_800_000_000, 8192),
    "LeapCubeReorient": (200_000_000, 8192),
    "LeapCubeRotateZAxis": (100_000_000, 8192),
    "AeroCubeRotateZAxis": (300_000_000, 8192),
}
