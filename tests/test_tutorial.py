"""The tutorial (docs/tutorial.md, a jupytext markdown notebook) runs and prints what it shows.

Its ```python cells run in order in one namespace, in a temporary directory (the figures it
saves land there), with warnings as errors.  A cell followed by a ```text block must print
that text: the words exactly (whitespace normalised), every number within 1 % plus one unit
of its last printed digit (the printed precision; the tutorial's results are seeded, so the
1 % only absorbs floating-point differences between machines and library versions).

When a change of the library changes what the tutorial prints, regenerate the shown output
(and the figures in docs/) and review the diff: ``python tests/test_tutorial.py --update``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
_CELL = re.compile(r"^```python\n(.*?)^```\n(?:\n```text\n(.*?)^```\n)?", re.M | re.S)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
RTOL = 0.01


def _cells() -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2)) for m in _CELL.finditer(TUTORIAL.read_text("utf-8"))]


def _last_digit(token: str) -> float:
    """One unit of the last printed digit of a number token ("1.51e-13" -> 1e-15)."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return 10.0 ** (int(exponent or 0) - decimals)


def _assert_same_output(got: str, expected: str, cell: int) -> None:
    words_got = _NUMBER.sub("#", " ".join(got.split()))
    words_exp = _NUMBER.sub("#", " ".join(expected.split()))
    assert words_got == words_exp, f"cell {cell} printed\n{got}\nexpected\n{expected}"
    for g, e in zip(_NUMBER.findall(got), _NUMBER.findall(expected), strict=True):
        tol = RTOL * abs(float(e)) + _last_digit(e)
        assert abs(float(g) - float(e)) <= tol, (
            f"cell {cell}: printed {g}, the tutorial shows {e} (tolerance {tol:.2g})\n{got}"
        )


def test_tutorial_has_the_five_questions() -> None:
    text = TUTORIAL.read_text("utf-8")
    for n in range(1, 6):
        assert re.search(rf"^## {n}\. ", text, re.M), f"section {n} missing"
    assert len(_cells()) >= 6


def test_number_comparison_is_not_vacuous() -> None:
    _assert_same_output("Z = 2.07", "Z = 2.07", 0)
    with pytest.raises(AssertionError):
        _assert_same_output("Z = 2.2", "Z = 2.07", 0)
    with pytest.raises(AssertionError):
        _assert_same_output("y < 1.51e-12", "y < 1.51e-13", 0)


def test_tutorial_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict[str, object] = {"__name__": "__tutorial__"}
    for i, (code, expected) in enumerate(_cells()):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(code, f"{TUTORIAL.name}:cell{i}", "exec"), namespace)
        if expected is not None:
            _assert_same_output(buf.getvalue(), expected, i)
    for figure in re.findall(r"!\[[^]]*\]\(([^)]+\.png)\)", TUTORIAL.read_text("utf-8")):
        assert (tmp_path / figure).stat().st_size > 1000, f"{figure} not written"
        assert (TUTORIAL.parent / figure).exists(), f"docs/{figure} not committed"


def update() -> None:
    """Rerun the cells and rewrite every ```text block (and the figures) of the tutorial."""
    text = TUTORIAL.read_text("utf-8")
    text = re.sub(r"(^```python\n.*?^```\n)\n```text\n.*?^```\n", r"\1", text, flags=re.M | re.S)
    namespace: dict[str, object] = {"__name__": "__tutorial__"}
    out, pos = [], 0
    here = os.getcwd()
    work = tempfile.mkdtemp()
    os.chdir(work)
    try:
        for m in re.finditer(r"^```python\n(.*?)^```\n", text, re.M | re.S):
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                exec(compile(m.group(1), f"{TUTORIAL.name}:cell", "exec"), namespace)
            out.append(text[pos : m.end()])
            if buf.getvalue():
                out.append("\n```text\n" + buf.getvalue() + "```\n")
            pos = m.end()
    finally:
        os.chdir(here)
    out.append(text[pos:])
    TUTORIAL.write_text("".join(out), encoding="utf-8")
    for figure in Path(work).glob("*.png"):
        shutil.copy(figure, TUTORIAL.parent / figure.name)
    print(f"updated {TUTORIAL} and its figures; review with git diff")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_tutorial.py --update")
    os.environ.setdefault("MPLBACKEND", "Agg")
    update()
