"""Folding in executed pages: plumbing and asides collapse, the lesson stays in view.

Two conventions, set with jupytext cell tags in a page's ``.py`` file:

- ``# %% tags=["fold"]``: a code cell whose code is collapsed under its first comment line;
  what it prints and draws stays visible below.
- ``# %% tags=["answer"]``: a code cell collapsed whole, its code and what it prints and draws,
  under its first comment line: the answer to a question the reader tries first.
- ``# %% [markdown] tags=["deeper"]``: a markdown cell shown as a collapsed box, titled by its
  first line (a bold phrase or a heading), which is taken out of the body.

nbconvert's HTML gives each tagged cell a ``celltag_<tag>`` class: on the cell's ``jp-Cell``
element for a code cell, on its ``jp-RenderedMarkdown`` element for a markdown cell. The
functions here work on that HTML as text and need nothing but the standard library, so they can
be tested on small strings without building the site.
"""

from __future__ import annotations

import html
import re

# nbconvert's HTML is generated and well nested, and the code and text in it are escaped, so
# counting <div> and </div> finds where an element ends.
_DIV = re.compile(r"<(/?)div\b[^>]*>", re.IGNORECASE)
_CELL = re.compile(r'<div class="(jp-Cell [^"]*)"')
_INPUT_WRAPPER = '<div class="jp-Cell-inputWrapper"'
_TOOLBAR = '<div class="celltoolbar">'
_COPY_TEXT = re.compile(r'<div class="clipboard-copy-txt"[^>]*>(.*?)</div>', re.DOTALL)
_DEEPER = re.compile(r'<div class="[^"]*\bjp-RenderedMarkdown\b[^"]*\bcelltag_deeper\b[^"]*"[^>]*>')
_HEADING = re.compile(r'\s*<h([1-6])(?: id="([^"]*)")?[^>]*>(.*?)</h\1>', re.DOTALL | re.IGNORECASE)
_TOC_HEADING = re.compile(r'<h([1-6]) id="([^"]+)"[^>]*>(.*?)</h\1>', re.DOTALL | re.IGNORECASE)
_ANCHOR_LINK = re.compile(r'<a class="anchor-link"[^>]*>.*?</a>', re.DOTALL)
_BOLD_PARAGRAPH = re.compile(r"\s*<p>\s*<strong>(.*?)</strong>(.*?)</p>", re.DOTALL)
_ID = re.compile(r'\bid="([^"]+)"')


class FoldError(ValueError):
    """A tagged cell that does not follow its convention."""


def element_end(text: str, start: int) -> int:
    """The index just past the ``</div>`` that closes the ``<div`` starting at ``start``."""
    depth = 0
    for match in _DIV.finditer(text, start):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            return match.end()
    raise FoldError(f"no </div> closes the element at {start}: {text[start : start + 80]!r}")


def fold_notebook(page: str) -> tuple[str, set[str]]:
    """``page`` with its ``fold`` code cells and ``deeper`` markdown cells collapsed, and cell
    tags no longer printed above the code. Also returns the ids of the elements that ended up
    inside a collapsed body, which the table of contents must leave out."""
    page = _remove_tag_toolbars(page)
    page = _fold_answer_cells(page)
    page = _fold_code_cells(page)
    return _fold_deeper_cells(page)


def _remove_tag_toolbars(page: str) -> str:
    """mkdocs-jupyter prints a cell's tags above its code; tags are for the build, not readers."""
    while (start := page.find(_TOOLBAR)) >= 0:
        page = page[:start] + page[element_end(page, start) :]
    return page


def _fold_code_cells(page: str) -> str:
    out, position = [], 0
    while (start := page.find(_INPUT_WRAPPER, position)) >= 0:
        end = element_end(page, start)
        # The input wrapper is the first child of the cell's innermost jp-Cell element.
        cell = _CELL.match(page, max(page.rfind('<div class="jp-Cell ', 0, start), 0))
        classes = cell.group(1).split() if cell else []
        out.append(page[position:start])
        wrapper = page[start:end]
        if "jp-CodeCell" in classes and "celltag_fold" in classes:
            summary = html.escape(_fold_summary(wrapper), quote=False)
            wrapper = f'<details class="fold"><summary>{summary}</summary>{wrapper}</details>'
        out.append(wrapper)
        position = end
    out.append(page[position:])
    return "".join(out)


def _fold_answer_cells(page: str) -> str:
    out, position = [], 0
    answer = re.compile(r'<div class="jp-Cell [^"]*\bjp-CodeCell\b[^"]*\bcelltag_answer\b[^"]*"')
    while match := answer.search(page, position):
        start, end = match.start(), element_end(page, match.start())
        cell = page[start:end]
        summary = html.escape(_fold_summary(cell, "answer"), quote=False)
        out += [
            page[position:start],
            f'<details class="fold answer"><summary>{summary}</summary>{cell}</details>',
        ]
        position = end
    out.append(page[position:])
    return "".join(out)


def _fold_summary(wrapper: str, tag: str = "fold") -> str:
    """The first line of a code cell, a comment, without its ``#``."""
    copy = _COPY_TEXT.search(wrapper)
    source = html.unescape(copy.group(1)) if copy else ""
    first = source.lstrip("\n").split("\n", 1)[0]
    match = re.fullmatch(r"#+ ?(.*\S)\s*", first)
    if not match:
        raise FoldError(
            f'a code cell tagged "{tag}" must start with a comment naming what it holds: {first!r}'
        )
    return match.group(1)


def _fold_deeper_cells(page: str) -> tuple[str, set[str]]:
    out, position, hidden = [], 0, set()
    while match := _DEEPER.search(page, position):
        start, end = match.start(), element_end(page, match.start())
        close = page.rindex("</div>", start, end)
        summary, body, box_id = _deeper_parts(page[match.end() : close])
        hidden |= set(_ID.findall(body))
        id_attribute = f' id="{box_id}"' if box_id else ""
        out += [
            page[position : match.end()],
            f'<details class="deeper"{id_attribute}><summary>{summary}</summary>',
            f"{body}</details>",
            page[close:end],
        ]
        position = end
    out.append(page[position:])
    return "".join(out), hidden


def _deeper_parts(content: str) -> tuple[str, str, str | None]:
    """(summary, body, id) of a ``deeper`` cell's rendered markdown. The first line, a heading or
    a paragraph that starts in bold, becomes the summary; a heading's id moves to the box, so a
    link to the heading opens onto the box."""
    if heading := _HEADING.match(content):
        summary = _ANCHOR_LINK.sub("", heading.group(3)).strip()
        return summary, content[heading.end() :], heading.group(2)
    if bold := _BOLD_PARAGRAPH.match(content):
        rest = bold.group(2).strip()
        body = (f"<p>{rest}</p>" if rest else "") + content[bold.end() :]
        return bold.group(1).strip(), body, None
    raise FoldError(
        'a markdown cell tagged "deeper" must start with a heading or a bold phrase: '
        f"{content.strip()[:80]!r}"
    )


def toc_tokens(page: str, depth: int, leave_out=frozenset()) -> list[dict]:
    """The table of contents of ``page``, read from its own headings down to level ``depth``,
    as the tokens ``mkdocs.structure.toc.get_toc`` takes. ``leave_out``: ids of headings folded
    away. mkdocs-jupyter reads the table of contents from the notebook's markdown instead, where
    a code span in a heading is left out of the id it links to: the heading
    ``1.4 ... without `keepdims` `` got a link to an id the page does not have."""
    root: dict = {"level": 0, "children": []}
    open_levels = [root]
    for match in _TOC_HEADING.finditer(page):
        level, heading_id = int(match.group(1)), match.group(2)
        if level > depth or heading_id in leave_out:
            continue
        name = _ANCHOR_LINK.sub("", match.group(3)).strip()
        token = {"level": level, "id": heading_id, "name": name, "children": []}
        while open_levels[-1]["level"] >= level:
            open_levels.pop()
        open_levels[-1]["children"].append(token)
        open_levels.append(token)
    return root["children"]
