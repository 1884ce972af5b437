"""Human-readable documentation of a config dataclass: every field with its type, default, the value
resolved for a task (tuned tables applied) and the field's docstring, read from the source."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
from typing import Any, get_type_hints

__all__ = ["field_docs", "describe_config"]


def field_docs(cls: type) -> dict[str, str]:
    """``{field: docstring}`` from the string literals that follow field definitions in ``cls`` and its
    dataclass bases (the attribute-docstring convention used by every config in this suite)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, nxt in zip(body, body[1:]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                    and isinstance(nxt.value.value, str)):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def describe_config(default: Any, resolved: Any | None = None) -> str:
    """A table of ``default``'s fields: name, type, default, resolved value (where it differs), doc."""
    hints = get_type_hints(type(default))
    docs = field_docs(type(default))
    lines = [f"{type(default).__name__} ({type(default).__module__})"]
    for f in dataclasses.fields(default):
        d = getattr(default, f.name)
        tp = getattr(hints[f.name], "__name__", str(hints[f.name])).replace("typing.", "")
        r = "" if resolved is None or getattr(resolved, f.name) == d else f"  -> {getattr(resolved, f.name)!r} here"
        lines.append(f"  {f.name} : {tp} = {d!r}{r}")
        if f.name in docs:
            lines.append(f"      {docs[f.name]}")
    return "\n".join(lines)
