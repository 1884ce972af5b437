"""Tables as text: pure ``DataFrame -> CSV / Markdown / LaTeX`` functions (no I/O, no extra deps).

CSV keeps full precision (``%.10g``) and holds every number a figure shows; Markdown and LaTeX round
floats to ``digits`` significant digits for reading. Output is deterministic for a given frame.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import pandas as pd

__all__ = ["format_value", "to_csv", "to_markdown", "to_latex", "with_ci", "render"]


def format_value(v: Any, digits: int = 4) -> str:
    """Readable cell text: floats to ``digits`` significant digits, NaN as an em dash, rest ``str``."""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
        if v == 0:
            return "0"
        if v == int(v) and abs(v) < 1e9:
            return str(int(v))
        return f"{v:.{digits}g}"
    return str(v)


def to_csv(df: pd.DataFrame) -> str:
    """CSV text with a header, no index, floats as ``%.10g``, ``\\n`` line endings."""
    return df.to_csv(index=False, float_format="%.10g", lineterminator="\n")


def _cells(df: pd.DataFrame, digits: int) -> list[list[str]]:
    return [[format_value(v, digits) for v in row] for row in df.itertuples(index=False, name=None)]


def to_markdown(df: pd.DataFrame, digits: int = 4) -> str:
    """GitHub-flavoured Markdown table (numbers right-aligned)."""
    header = [str(c) for c in df.columns]
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(esc(h) for h in header) + " |",
             "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in _cells(df, digits)]
    return "\n".join(lines) + "\n"


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "—": "--"}


def _latex_escape(s: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in s)


def to_latex(df: pd.DataFrame, digits: int = 4, caption: str = "", label: str = "") -> str:
    """A ``booktabs`` LaTeX table (``\\toprule``/``\\midrule``/``\\bottomrule``)."""
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    spec = "".join("r" if n else "l" for n in numeric)
    lines = [r"\begin{table}[t]", r"\centering", r"\small"]
    if caption:
        lines.append(r"\caption{" + _latex_escape(caption) + "}")
    if label:
        lines.append(r"\label{" + label + "}")
    lines += [r"\begin{tabular}{" + spec + "}", r"\toprule",
              " & ".join(_latex_escape(str(c)) for c in df.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(_latex_escape(c) for c in row) + r" \\" for row in _cells(df, digits)]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def with_ci(df: pd.DataFrame, point: str, lower: str, upper: str, name: str | None = None,
            digits: int = 3) -> pd.DataFrame:
    """Replace three columns by one text column ``"point [lower, upper]"`` (for Markdown/LaTeX)."""
    out = df.copy()
    text = [f"{format_value(float(p), digits)} [{format_value(float(lo), digits)}, {format_value(float(hi), digits)}]"
            for p, lo, hi in zip(out[point], out[lower], out[upper])]
    pos = list(out.columns).index(point)
    out = out.drop(columns=[point, lower, upper])
    out.insert(pos, name or point, text)
    return out


def render(name: str, df: pd.DataFrame, readable: pd.DataFrame | None = None, caption: str = "",
           digits: int = 4) -> dict[str, str]:
    """``{"<name>.csv": ..., "<name>.md": ..., "<name>.tex": ...}``: the CSV from ``df`` (full precision),
    Markdown and LaTeX from ``readable`` (defaults to ``df``)."""
    readable = df if readable is None else readable
    return {
        f"{name}.csv": to_csv(df),
        f"{name}.md": to_markdown(readable, digits),
        f"{name}.tex": to_latex(readable, digits, caption=caption, label=f"tab:{name}"),
    }


def columns(df: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """``df[names]`` (helper for selecting a readable subset)."""
    return df.loc[:, list(names)]
