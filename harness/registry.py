"""Algorithm and task registries, filled through the entry-point groups ``dpbench.algorithms`` and
``dpbench.tasks``.

In-tree packages are registered exactly like plugins: pyproject.toml names a module per entry point,
loading it runs its ``@register_algorithm`` / ``register_task`` calls. The harness never imports an
algorithm or a suite by name.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Mapping

__all__ = [
    "AlgorithmSpec",
    "TaskSpec",
    "RegistryError",
    "register_algorithm",
    "register_task",
    "get_algorithm",
    "get_task",
    "list_algorithms",
    "list_tasks",
    "load_plugins",
]

ALGORITHM_GROUP = "dpbench.algorithms"
TASK_GROUP = "dpbench.tasks"


class RegistryError(LookupError):
    """An unknown or duplicate name; the message lists what is known."""


@dataclass(frozen=True)
class AlgorithmSpec:
    """A registered algorithm: how to build its agent and where its defaults come from."""

    name: str
    config_cls: type
    """Frozen dataclass holding every hyperparameter, each field documented."""
    factory: Callable[..., Any]
    """``factory(config, env_spec, seeds, device) -> Agent``."""
    on_policy: bool
    upstream: str
    """``"owner/repo@commit"`` it reimplements, or ``"this work"``."""
    tuned: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per-preset / per-task values applied over the defaults, keyed ``"preset:<name>"`` or a task
    name such as ``"playground/CartpoleBalance"``."""
    reference: bool = False
    """A reference policy (zero action, random action), not a competitor: analysis shows it as a
    reference row and leaves it out of the aggregates."""


@dataclass(frozen=True)
class TaskSpec:
    """A registered task: how to build its VecEnv and its default budget and evaluation schedule."""

    name: str
    """Full name ``"<suite>/<Task>"``."""
    factory: Callable[..., Any] = field(compare=False, repr=False)
    """``factory(num_envs, seed, device) -> VecEnv``."""
    episode_length: int
    env_steps: int
    """Default training budget in env steps (transitions summed over envs, times action repeat)."""
    eval_every: int
    """Evaluation period in env steps; evaluations happen at 0, eval_every, ..., env_steps."""
    eval_episodes: int
    num_envs: int
    """Default number of parallel training envs."""
    preset: str
    """Hyperparameter family algorithms tune for (``"toy"``, ``"playground_dmc"``, ``"isaaclab"``...)."""
    description: str = ""
    outcomes: tuple[str, ...] = ()
    """Names of the per-episode outcome codes the env reports (e.g. goal names), empty if none."""
    available: Callable[[], str | None] = field(default=lambda: None, compare=False, repr=False)
    """Returns None if the task can run here, else a message saying what is missing and how to get it."""
    python: Callable[[], str | None] = field(default=lambda: None, compare=False, repr=False)
    """The Python interpreter a run of this task must be delegated to (a suite's own venv, e.g. IsaacLab's
    Python 3.12 venv), or None to run in this one. ``dpbench run`` re-executes itself there and the
    sweep's local executor starts that run's worker there."""

    @property
    def suite(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def short_name(self) -> str:
        return self.name.split("/", 1)[1]

    def to_json(self) -> dict[str, Any]:
        """The serialisable part of the spec (for manifests)."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("factory", "available", "python")
        } | {"suite": self.suite}


_ALGORITHMS: dict[str, AlgorithmSpec] = {}
_TASKS: dict[str, TaskSpec] = {}
_loaded_groups: set[str] = set()
_broken: dict[str, str] = {}
"""Entry points that failed to import: name -> error, reported when that name is asked for."""


def register_algorithm(
    *,
    name: str,
    config: type,
    on_policy: bool,
    upstream: str,
    tuned: Mapping[str, Mapping[str, Any]] | None = None,
    reference: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator for an agent factory ``(config, env_spec, seeds, device) -> Agent``."""
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"config for algorithm {name!r} must be a dataclass, got {config!r}")

    def wrap(factory: Callable[..., Any]) -> Callable[..., Any]:
        existing = _ALGORITHMS.get(name)
        if existing is not None and existing.factory is not factory:
            if getattr(existing.factory, "__qualname__", None) != getattr(factory, "__qualname__", None):
                raise RegistryError(f"algorithm {name!r} registered twice")
        _ALGORITHMS[name] = AlgorithmSpec(name, config, factory, on_policy, upstream, dict(tuned or {}), reference)
        return factory

    return wrap


def register_task(spec: TaskSpec) -> TaskSpec:
    """Register a task; a second registration of the same name replaces the first only if equal."""
    if "/" not in spec.name:
        raise ValueError(f"task names are '<suite>/<Task>', got {spec.name!r}")
    existing = _TASKS.get(spec.name)
    if existing is not None and existing != spec:
        raise RegistryError(f"task {spec.name!r} registered twice with different specs")
    _TASKS[spec.name] = spec
    return spec


def load_plugins(group: str) -> None:
    """Import every module named in entry-point ``group`` (once per process)."""
    if group in _loaded_groups:
        return
    _loaded_groups.add(group)
    for ep in metadata.entry_points(group=group):
        try:
            ep.load()
        except Exception as e:  # noqa: BLE001 - one broken plugin must not hide the others
            _broken[ep.name] = f"{ep.value}: {type(e).__name__}: {e}"


def _unknown(kind: str, name: str, known: list[str]) -> RegistryError:
    if name in _broken:
        return RegistryError(f"{kind} {name!r} is declared but failed to load ({_broken[name]})")
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return RegistryError(f"unknown {kind} {name!r}.{hint} Known {kind}s: {', '.join(sorted(known)) or '(none)'}")


def get_algorithm(name: str) -> AlgorithmSpec:
    """Look up a registered algorithm; unknown names raise with the list of known ones."""
    load_plugins(ALGORITHM_GROUP)
    if name not in _ALGORITHMS:
        raise _unknown("algorithm", name, list(_ALGORITHMS))
    return _ALGORITHMS[name]


def get_task(name: str) -> TaskSpec:
    """Look up a registered task; unknown names raise with the list of known ones."""
    load_plugins(TASK_GROUP)
    if name not in _TASKS:
        raise _unknown("task", name, list(_TASKS))
    return _TASKS[name]


def broken_plugins() -> dict[str, str]:
    """Entry points that failed to import, with their errors."""
    load_plugins(ALGORITHM_GROUP)
    load_plugins(TASK_GROUP)
    return dict(_broken)


def list_algorithms() -> list[AlgorithmSpec]:
    load_plugins(ALGORITHM_GROUP)
    return [_ALGORITHMS[k] for k in sorted(_ALGORITHMS)]


def list_tasks() -> list[TaskSpec]:
    load_plugins(TASK_GROUP)
    return [_TASKS[k] for k in sorted(_TASKS)]
