"""A Griffe extension for the reference page, which mkdocstrings renders from the module.

- Doctest examples become code blocks. The module's docstrings are plain prose with ``code``
  spans and doctest examples, in no docstring style. The page renders them as Markdown, where a
  ``>>>`` line would be a nested quotation; each example (from its first ``>>>`` line to the next
  blank line, as doctest reads it) is fenced as a ``pycon`` block before it is rendered.
- A class's attributes are left out: the page lists the exported functions and classes with
  their methods, and a class's docstring says what its attributes hold.
"""

from __future__ import annotations

import griffe


def fence_doctests(text: str) -> str:
    """``text`` with every doctest example inside a fenced ``pycon`` block. Examples already
    inside a fenced block are left alone."""
    out, in_example, in_fence = [], False, False
    for line in text.split("\n"):
        if not in_example and line.startswith("```"):
            in_fence = not in_fence
        elif not in_example and not in_fence and line.startswith(">>>"):
            if out and out[-1].strip():
                out.append("")
            out.append("```pycon")
            in_example = True
        elif in_example and not line.strip():
            out += ["```", ""]
            in_example = False
            continue
        out.append(line)
    if in_example:
        out.append("```")
    return "\n".join(out)


class ReferencePage(griffe.Extension):
    def on_object(self, *, obj, **kwargs) -> None:
        # An alias (a name imported from elsewhere) shows its target's docstring, not its own.
        if obj.is_alias:
            return
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)
        if obj.is_attribute and obj.parent is not None and obj.parent.is_class:
            obj.public = False
