"""``report.md`` and ``report.html`` of a reproduce run (written from the jobs' stamps).

The HTML is written directly from the same records (no markdown dependency): a heading, the
figure, its paragraph and links to the PDF and CSV files for every figure.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["report_html", "report_markdown"]

_CODE = re.compile(r"`([^`]+)`")


def _header(meta: dict[str, Any]) -> tuple[str, str]:
    mode = "--fast (smoke-test sizes)" if meta["fast"] else "full"
    line = (
        f"darkmoments {meta['version']}, `darkmoments reproduce` ({mode}), seed {meta['seed']}; "
        "every number below is computed by this run from the shipped templates, the generator "
        "and the relic solver."
    )
    return "darkmoments: the paper's figures and ours", line


def report_markdown(figures: Sequence[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The report as Markdown (one section per figure: image, paragraph, file links).

    Parameters
    ----------
    figures : sequence of dict
        Figure records of the stamps (``name``, ``title``, ``paragraph``, ``files``).
    meta : dict
        ``version``, ``fast``, ``seed``.

    Returns
    -------
    str

    Examples
    --------
    >>> from darkmoments.figures.report import report_markdown
    >>> fig = {"name": "fig1_reach", "title": "Figure 1", "paragraph": "The reach.",
    ...        "files": ["fig1_reach.png", "fig1_reach.csv"]}
    >>> print(report_markdown([fig], {"version": "1.0", "fast": True, "seed": 1}))
    # darkmoments: the paper's figures and ours
    <BLANKLINE>
    darkmoments 1.0, `darkmoments reproduce` (--fast (smoke-test sizes)), seed 1; ...
    <BLANKLINE>
    ## Figure 1
    <BLANKLINE>
    ![fig1_reach](fig1_reach.png)
    <BLANKLINE>
    The reach.
    <BLANKLINE>
    Files: [fig1_reach.pdf](fig1_reach.pdf), [fig1_reach.csv](fig1_reach.csv).
    <BLANKLINE>
    """
    title, line = _header(meta)
    out = [f"# {title}", "", line, ""]
    for f in figures:
        name = f["name"]
        csvs = ", ".join(f"[{c}]({c})" for c in f["files"] if c.endswith(".csv"))
        out += [
            f"## {f['title']}",
            "",
            f"![{name}]({name}.png)",
            "",
            f["paragraph"],
            "",
            f"Files: [{name}.pdf]({name}.pdf), {csvs}.",
            "",
        ]
    return "\n".join(out)


def _inline(text: str) -> str:
    """HTML-escaped text with `code` spans."""
    return _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", html.escape(text, quote=False))


def report_html(figures: Sequence[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The same report as one self-contained HTML page (images by relative path).

    Parameters
    ----------
    figures : sequence of dict
        Figure records (``name``, ``title``, ``paragraph``, ``files``).
    meta : dict
        ``version``, ``fast``, ``seed``.

    Returns
    -------
    str

    Examples
    --------
    >>> from darkmoments.figures.report import report_html
    >>> fig = {"name": "fig1_reach", "title": "Figure 1", "paragraph": "y < `1e-13`.",
    ...        "files": ["fig1_reach.csv"]}
    >>> page = report_html([fig], {"version": "1.0", "fast": False, "seed": 1})
    >>> page.startswith("<!DOCTYPE html>"), '<img src="fig1_reach.png"' in page
    (True, True)
    >>> "<p>y &lt; <code>1e-13</code>.</p>" in page
    True
    """
    title, line = _header(meta)
    body = [f"<h1>{html.escape(title)}</h1>", f"<p>{_inline(line)}</p>", "<nav><ul>"]
    body += [f'<li><a href="#{f["name"]}">{html.escape(f["title"])}</a></li>' for f in figures]
    body.append("</ul></nav>")
    for f in figures:
        name = html.escape(f["name"])
        links = [f'<a href="{name}.pdf">{name}.pdf</a>'] + [
            f'<a href="{html.escape(c)}">{html.escape(c)}</a>'
            for c in f["files"]
            if c.endswith(".csv")
        ]
        body += [
            f'<section id="{name}">',
            f"<h2>{html.escape(f['title'])}</h2>",
            f'<img src="{name}.png" alt="{name}">',
            f"<p>{_inline(f['paragraph'])}</p>",
            f"<p class=files>Files: {', '.join(links)}.</p>",
            "</section>",
        ]
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
        "line-height:1.45}img{max-width:100%;height:auto;border:1px solid #ddd}"
        "code{background:#f4f4f4;padding:0 .2em}.files{font-size:90%;color:#555}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{style}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
