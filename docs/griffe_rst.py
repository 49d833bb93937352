"""Griffe extension for the API site: the reST idioms of our docstrings as Markdown.

The docstrings are numpy style and written for ``help()`` as much as for the site: they use
Sphinx roles (``:func:`load```, ``:class:`~pathlib.Path```) and physics notation such as
``g_*`` or ``E*``.  Markdown would print the role names and read the asterisks as emphasis;
this extension rewrites a role to a code span (the target without a leading ``~`` or ``.``)
and escapes an asterisk that follows a letter, digit, underscore or closing parenthesis
outside code.  Loaded by ``mkdocs.yml`` (``extensions:`` of the python handler).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:mod|func|class|meth|attr|data|obj|exc|const):`~?\.?([^`]+)`")
_CODE = re.compile(r"(``.+?``|`[^`]+`)", re.S)
_STAR = re.compile(r"(?<=[\w)\]])\*")


def _markdown(text: str) -> str:
    text = _ROLE.sub(lambda m: f"`{m.group(1)}`", text)
    parts = _CODE.split(text)
    for i in range(0, len(parts), 2):  # outside code spans only
        parts[i] = _STAR.sub(r"\\*", parts[i])
    return "".join(parts)


class RestToMarkdown(griffe.Extension):
    """Rewrite Sphinx roles and bare asterisks of every docstring (see the module docstring)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:  # noqa: ARG002
        """Rewrite the docstring of ``obj`` in place."""
        if obj.docstring is not None:
            obj.docstring.value = _markdown(obj.docstring.value)
