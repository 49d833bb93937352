"""Griffe extension for the API site: the reST idioms of our docstrings as Markdown.

The docstrings are numpy style and written for ``help()`` as much as for the site: they use
Sphinx roles (``:func:`load```, ``:class:`~pathlib.Path```) and physics notation such as
``g_*`` or ``E*``.  Markdown would print the role names and read the asterisks as emphasis;
this extension rewrites a role to a code span (the target without a leading ``~`` or ``.``)
and escapes an asterisk that follows a letter, digit, underscore or closing parenthesis and
the ``][`` of optional-argument notation (``mu[, theta][, b]``, else a Markdown reference
link), outside code: inline code spans, doctest blocks (``>>>`` to the next blank line) and
indented literal blocks are left as they are.  Loaded by ``mkdocs.yml`` (``extensions:`` of
the python handler).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:mod|func|class|meth|attr|data|obj|exc|const):`~?\.?([^`]+)`")
_CODE = re.compile(r"(``.+?``|`[^`]+`)", re.S)
_STAR = re.compile(r"(?<=[\w)\]])\*")
_REF = re.compile(r"\]\[")  # "mu[, theta][, b]" would be a Markdown reference link


def _code_lines(lines: list[str]) -> list[bool]:
    """Which lines Markdown shows as code: doctest blocks and indented literal blocks."""
    code, in_doctest, code_indent, base, after_blank = [], False, None, 0, True
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if not stripped:
            in_doctest = False
            after_blank = True
            code.append(code_indent is not None)
            continue
        if stripped.startswith((">>>", "...")) or in_doctest:
            in_doctest = True  # a doctest runs until the next blank line (its output too)
        elif code_indent is not None and indent >= code_indent:
            pass  # the literal block goes on
        elif after_blank and indent >= base + 4:
            code_indent = indent  # an indented block after a blank line
        else:
            code_indent, base = None, indent
        code.append(in_doctest or code_indent is not None)
        after_blank = False
    return code


def _markdown(text: str) -> str:
    lines = text.split("\n")
    out = []
    for line, is_code in zip(lines, _code_lines(lines), strict=True):
        if is_code:
            out.append(line)
            continue
        line = _ROLE.sub(lambda m: f"`{m.group(1)}`", line)
        parts = _CODE.split(line)
        for i in range(0, len(parts), 2):  # outside code spans only
            parts[i] = _REF.sub(r"]\\[", _STAR.sub(r"\\*", parts[i]))
        out.append("".join(parts))
    return "\n".join(out)


class RestToMarkdown(griffe.Extension):
    """Rewrite Sphinx roles and bare asterisks of every docstring (see the module docstring)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:  # noqa: ARG002
        """Rewrite the docstring of ``obj`` in place."""
        if obj.docstring is not None:
            obj.docstring.value = _markdown(obj.docstring.value)
