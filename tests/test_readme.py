"""Every snippet of README.md runs (issue 15).

Each fenced ```python block is executed as written in a fresh namespace, in a temporary
working directory.  Each command of a ```bash block is one test: ``darkmoments ...`` runs as
``python -m darkmoments``, ``pyhf ...`` through this environment's pyhf, ``mkdir`` as
itself; a command that reads a file written by an earlier command of the same block (``pyhf
cls ws.json`` after ``darkmoments workspace ... --out ws.json``) runs that command first.
Monte Carlo counts are cut to test size (``SMALLER``); everything else is as printed.  The
command must exit 0, every ``--out``/``--plot`` it names must exist afterwards, and
``--json`` output must be one JSON document.

Illustrative snippets (not run, each with the reason) are listed in ``ILLUSTRATIVE``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

#: Option -> value used in the tests: the README's event and toy counts, cut to seconds.
SMALLER = {"--events": "200", "--events-per-energy": "200", "--toys": "20"}

#: Substrings of snippets that are not run, with the reason.
ILLUSTRATIVE = {
    "from LDMX.SimCore": "ldmx-sw's Python configuration (LDMX.SimCore) is not installable "
    "here: it exists inside an ldmx-sw container",
    "make demo": "the make targets are the suite itself and CI (.ci/run), not snippets",
}

#: Commands that take more than a few seconds even at test size: run by `make test-all`.
SLOW = ("darkmoments discriminate",)

_FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.M | re.S)


def _blocks(language: str) -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    return [
        (text[: m.start()].count("\n") + 1, m.group(2))
        for m in _FENCE.finditer(text)
        if m.group(1) == language
    ]


def _illustrative(code: str) -> str | None:
    return next((why for key, why in ILLUSTRATIVE.items() if key in code), None)


def _commands(code: str) -> list[list[str]]:
    """Shell commands of a block: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", code)
    return [argv for line in joined.splitlines() if (argv := shlex.split(line, comments=True))]


def _smaller(argv: list[str]) -> list[str]:
    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg in SMALLER:
            out[i + 1] = SMALLER[arg]
    return out


def _option_values(argv: list[str], *options: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in options]


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    if argv[0] == "mkdir":
        for d in argv[1:]:
            if not d.startswith("-"):
                (cwd / d).mkdir(parents=True, exist_ok=True)
        return subprocess.CompletedProcess(argv, 0, "", "")
    if argv[0] == "darkmoments":
        cmd = [sys.executable, "-m", "darkmoments", *argv[1:]]
    elif argv[0] == "pyhf":
        cmd = [str(Path(sys.executable).with_name("pyhf")), *argv[1:]]
    else:
        raise AssertionError(f"README command of unknown program: {shlex.join(argv)}")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=900)


PYTHON_CASES = [
    pytest.param(
        code,
        id=f"line{line}",
        marks=[pytest.mark.skip(reason=why)] if (why := _illustrative(code)) else [],
    )
    for line, code in _blocks("python")
]


def _bash_cases() -> list:
    cases = []
    for line, code in _blocks("bash"):
        why = _illustrative(code)
        cmds = _commands(code)
        for i, argv in enumerate(cmds):
            marks = [pytest.mark.skip(reason=why)] if why else []
            if any(shlex.join(argv).startswith(s) for s in SLOW):
                marks.append(pytest.mark.slow)
            cases.append(
                pytest.param(cmds[:i], argv, id=f"line{line}-{shlex.join(argv)}", marks=marks)
            )
    return cases


BASH_CASES = _bash_cases()


def test_readme_has_snippets() -> None:
    assert len(PYTHON_CASES) >= 1
    assert len(BASH_CASES) >= 10


@pytest.mark.parametrize("code", PYTHON_CASES)
def test_python_snippet(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    exec(compile(code, str(README), "exec"), namespace)


@pytest.mark.parametrize(("earlier", "argv"), BASH_CASES)
def test_bash_command(earlier: list[list[str]], argv: list[str], tmp_path: Path) -> None:
    argv = _smaller(argv)
    # earlier commands of the block that write a file this one names
    for prior in earlier:
        prior = _smaller(prior)
        outs = _option_values(prior, "--out")
        if prior[0] == "mkdir" or any(o in argv for o in outs):
            proc = _run(prior, tmp_path)
            assert proc.returncode == 0, (shlex.join(prior), proc.stderr[-2000:])
    proc = _run(argv, tmp_path)
    extra = re.search(r"pip install 'darkmoments\[(\w+)\]' \(import of '(\w+)' failed", proc.stderr)
    if proc.returncode and extra and importlib.util.find_spec(extra.group(2)) is None:
        pytest.skip(f"needs the [{extra.group(1)}] extra ({extra.group(2)} is not installed)")
    assert proc.returncode == 0, (shlex.join(argv), proc.stderr[-2000:])
    for path in _option_values(argv, "--out", "--plot"):
        assert (tmp_path / path).exists(), f"{shlex.join(argv)} did not write {path}"
    if "--json" in argv:
        json.loads(proc.stdout)
