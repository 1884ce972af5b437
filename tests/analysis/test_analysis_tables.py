"""Text renderers for tables."""

from __future__ import annotations

import math

import pandas as pd

from analysis import tables as T


def test_markdown_latex_csv():
    df = pd.DataFrame({"algo": ["a_b", "c|d"], "x": [0.123456, math.nan], "n": [3, 4]})
    md = T.to_markdown(df)
    assert md.splitlines()[1] == "|:---|---:|---:|"
    assert "| c\\|d | — | 4 |" in md and "0.1235" in md
    tex = T.to_latex(df, caption="cap", label="tab:x")
    assert r"a\_b" in tex and r"\toprule" in tex and "--" in tex and r"\label{tab:x}" in tex
    csv = T.to_csv(df)
    assert csv.splitlines()[1] == "a_b,0.123456,3"


def test_with_ci():
    df = pd.DataFrame({"algo": ["a"], "p": [0.5], "lo": [0.25], "hi": [0.75]})
    out = T.with_ci(df, "p", "lo", "hi", "est")
    assert list(out.columns) == ["algo", "est"] and out.loc[0, "est"] == "0.5 [0.25, 0.75]"
