"""The layer rules of DESIGN.md, checked on the source (AST, no imports executed).

``baselines``, ``methods``, ``suites`` -> ``harness``; ``analysis`` -> ``harness.records`` only;
``harness`` imports none of them; no algorithm imports another algorithm or a suite; a suite imports
no algorithm; the command line (``dpbench``) sits above every layer. A violation names the file, the
line and the rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("harness", "baselines", "methods", "suites", "analysis", "dpbench", "bench")
RECORD_READERS = ("harness.records", "harness.probe_records")
"""The standard-library-only record modules analysis may import."""
SIMULATORS = ("torch", "jax", "jaxlib", "mujoco", "mujoco_playground", "brax", "isaaclab", "warp", "newton")


def _imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """Absolute module names imported by ``path`` (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    pkg = list(path.relative_to(root).with_suffix("").parts[:-1])
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
    return out


def _files(layer: str, root: Path = ROOT) -> list[Path]:
    return sorted(p for p in (root / layer).rglob("*.py") if "__pycache__" not in p.parts)


def _violations(layer: str, allowed, root: Path = ROOT) -> list[str]:
    bad = []
    for f in _files(layer, root):
        own = f.relative_to(root).parts[:2]  # e.g. ("baselines", "ppo")
        for line, mod in _imports(f, root):
            top = mod.split(".")[0]
            why = allowed(own, mod, top)
            if why:
                bad.append(f"{f.relative_to(root)}:{line} imports {mod}: {why}")
    return bad


def _harness(own, mod, top):
    if top in LAYERS and top != "harness":
        return "harness is the bottom layer; it imports no algorithm, suite, analysis or CLI code"
    return None


def _algorithm(own, mod, top):
    if top in ("suites", "analysis", "dpbench", "bench"):
        return "an algorithm imports only harness (never a suite, analysis or the CLI)"
    if top in ("baselines", "methods") and tuple(mod.split(".")[:2]) != own:
        return "an algorithm never imports another algorithm: shared pieces belong in harness/blocks"
    return None


def _suite(own, mod, top):
    if top in ("baselines", "methods", "analysis", "dpbench", "bench"):
        return "a suite imports only harness (never an algorithm, analysis or the CLI)"
    return None


def _analysis(own, mod, top):
    if top in SIMULATORS:
        return "analysis must regenerate figures without torch, jax or any simulator"
    if top in LAYERS and top != "analysis" and mod not in RECORD_READERS:
        return "analysis reads records through harness.records (and harness.probe_records) only"
    return None


RULES = {"harness": _harness, "baselines": _algorithm, "methods": _algorithm, "suites": _suite, "analysis": _analysis}


@pytest.mark.parametrize("layer", sorted(RULES))
def test_layer_rules(layer):
    assert _files(layer), f"no sources found under {layer}/"
    assert _violations(layer, RULES[layer]) == []


def test_the_check_sees_violations(tmp_path):
    """The rule check itself can fail: imports across layers, relative ones included, are reported."""
    (tmp_path / "methods" / "m").mkdir(parents=True)
    (tmp_path / "methods" / "m" / "agent.py").write_text("from baselines.ppo.config import PPOConfig\nimport torch\n")
    (tmp_path / "analysis").mkdir()
    (tmp_path / "analysis" / "x.py").write_text("import torch\nfrom harness.runner import run\nfrom harness.records import load_run\n")
    (tmp_path / "harness").mkdir()
    (tmp_path / "harness" / "y.py").write_text("from ..analysis import report\n")
    assert _violations("methods", _algorithm, tmp_path) == [
        "methods/m/agent.py:1 imports baselines.ppo.config: an algorithm never imports another algorithm: "
        "shared pieces belong in harness/blocks"]
    bad = _violations("analysis", _analysis, tmp_path)
    assert [b.split(": ")[0] for b in bad] == ["analysis/x.py:1 imports torch", "analysis/x.py:2 imports harness.runner"]
    assert len(_violations("harness", _harness, tmp_path)) == 1
