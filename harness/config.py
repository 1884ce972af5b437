"""Resolving an algorithm's config: defaults -> tuned table (preset, then task) -> user overrides.

Overrides come from ``--set key=value`` (strings) or sweep TOML (typed values). Both are checked
against the dataclass fields: an unknown key or a value of the wrong type raises ``ConfigError``
naming the key, the value and what is allowed, before anything runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from typing import Any, Literal, Mapping, get_args, get_origin, get_type_hints

__all__ = ["PRESET_KEY", "ConfigError", "apply_overrides", "parse_assignments", "resolve_config", "config_to_json", "config_hash", "run_config_hash", "stored_config_overrides"]


class ConfigError(ValueError):
    """A bad configuration value or key; the message says what is allowed."""


def _type_name(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    return getattr(tp, "__name__", str(tp))


def _coerce(key: str, value: Any, tp: Any) -> Any:
    """Convert ``value`` (a string from the CLI or a TOML value) to field type ``tp`` or raise."""
    origin = get_origin(tp)
    bad = ConfigError(f"config key {key!r}: {value!r} is not a valid {_type_name(tp)}")
    if origin is Literal:
        allowed = get_args(tp)
        for a in allowed:
            if value == a or (isinstance(value, str) and str(a) == value):
                return a
        raise ConfigError(f"config key {key!r}: {value!r} is not allowed; allowed: {', '.join(map(repr, allowed))}")
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if type(None) in args and (value is None or (isinstance(value, str) and value.lower() in ("none", "null"))):
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(key, value, a)
            except ConfigError:
                pass
        raise bad
    if origin is tuple:
        args = get_args(tp)
        if isinstance(value, str):
            s = value.strip().strip("()[]")
            value = [v.strip() for v in s.split(",") if v.strip()] if s else []
        if not isinstance(value, (list, tuple)):
            raise bad
        elem = args[0] if args else str
        return tuple(_coerce(key, v, elem) for v in value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
            return False
        raise bad
    if tp is int:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.replace("_", ""))
            except ValueError:
                try:
                    f = float(value)
                except ValueError:
                    raise bad from None
                if f.is_integer():
                    return int(f)
        raise bad
    if tp is float:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, (int, float)):
            f = float(value)
        elif isinstance(value, str):
            try:
                f = float(value)
            except ValueError:
                raise bad from None
        else:
            raise bad
        if not math.isfinite(f):
            raise ConfigError(f"config key {key!r}: {value!r} is not a finite number; allowed: any finite float")
        return f
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad
    raise ConfigError(f"config key {key!r}: unsupported field type {tp!r}")


def apply_overrides(cfg: Any, overrides: Mapping[str, Any], *, source: str = "override") -> Any:
    """Return ``cfg`` with ``overrides`` applied after checking keys and types."""
    if not overrides:
        return _validated(cfg)
    hints = get_type_hints(type(cfg))
    fields = {f.name for f in dataclasses.fields(cfg)}
    changes = {}
    for key, value in overrides.items():
        if key not in fields:
            import difflib

            close = difflib.get_close_matches(key, sorted(fields), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"unknown config key {key!r} for {type(cfg).__name__} ({source}).{hint} "
                f"Allowed keys: {', '.join(sorted(fields))}"
            )
        changes[key] = _coerce(key, value, hints[key])
    return _validated(dataclasses.replace(cfg, **changes))


def _validated(cfg: Any) -> Any:
    """``cfg`` after its own ``validate()`` (if it has one) passed; a failure is a ``ConfigError``."""
    validate = getattr(cfg, "validate", None)
    if callable(validate):
        try:
            validate()
        except ValueError as e:
            raise ConfigError(f"{type(cfg).__name__}: {e}") from None
    return cfg


def parse_assignments(items: list[str] | None) -> dict[str, str]:
    """``["lr=3e-4", "epochs=5"]`` -> ``{"lr": "3e-4", "epochs": "5"}``."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        k = k.strip()
        if not k:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        out[k] = v.strip()
    return out


PRESET_KEY = "preset"
"""Override key that selects a named tuned-table preset (``--set preset=brax_dmc``, or ``preset =
"brax_dmc"`` in a sweep spec's ``[config.<algo>]``); it is not a config field."""


def resolve_config(spec: Any, task: Any, overrides: Mapping[str, Any] | None = None) -> Any:
    """Defaults, then ``spec.tuned["preset:<task.preset>"]``, then ``spec.tuned[task.name]``, then the
    preset named by an override ``preset=<name>`` (``spec.tuned["preset:<name>"]``), then the other
    overrides."""
    cfg = spec.config_cls()
    for key in (f"preset:{task.preset}", task.name):
        if key in spec.tuned:
            cfg = apply_overrides(cfg, spec.tuned[key], source=f"tuned table {key!r}")
    rest = dict(overrides or {})
    chosen = rest.pop(PRESET_KEY, None)
    if chosen is not None:
        known = sorted(k.split(":", 1)[1] for k in spec.tuned if k.startswith("preset:"))
        if not isinstance(chosen, str) or f"preset:{chosen}" not in spec.tuned:
            raise ConfigError(
                f"config key 'preset': {chosen!r} is not a preset of {getattr(spec, 'name', spec)!r}; "
                f"allowed: {', '.join(known) or 'none'}"
            )
        cfg = apply_overrides(cfg, spec.tuned[f"preset:{chosen}"], source=f"tuned table 'preset:{chosen}'")
    return apply_overrides(cfg, rest, source="user override")


def config_to_json(cfg: Any) -> dict[str, Any]:
    """JSON-ready dict of a config dataclass (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def config_hash(cfg_json: Mapping[str, Any], legacy_defaults: Mapping[str, Any] | None = None) -> str:
    """Short, stable hash of a resolved config.

    ``legacy_defaults``: fields added after records existed, each with the value that reproduces the
    behaviour from before it existed (a config class declares them as ``LEGACY_DEFAULTS``). A field at
    that value is left out of the hash, so records made before the field was added still match their
    config; the manifest's stored config still lists every field."""
    legacy = legacy_defaults or {}
    kept = {k: v for k, v in cfg_json.items() if not (k in legacy and v == legacy[k])}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]


def stored_config_overrides(config_cls: type, stored: Mapping[str, Any]) -> dict[str, Any]:
    """Overrides that rebuild a stored run's config (its manifest's ``config``) under today's defaults.

    A manifest lists every field its code had; a field added later is absent and must take the value
    that reproduces the old behaviour, ``config_cls.LEGACY_DEFAULTS`` (not today's default, which may
    differ: CPPO's ``kernel_base`` default is "identity" since issue 13, its legacy value "langevin")."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    legacy = getattr(config_cls, "LEGACY_DEFAULTS", None) or {}
    out = {k: v for k, v in legacy.items() if k in names and k not in stored}
    out.update(stored)
    return out


def run_config_hash(cfg: Any) -> str:
    """``config_hash`` of a config dataclass, honouring its class's ``LEGACY_DEFAULTS``."""
    return config_hash(config_to_json(cfg), getattr(type(cfg), "LEGACY_DEFAULTS", None))
