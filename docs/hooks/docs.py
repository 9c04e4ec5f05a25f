"""MkDocs hooks: publish the top-level module as a page, serve MathJax from its pinned package,
and generate the reference page from the module's docstrings.

``scratch_mlp.py`` lives at the project root, outside ``docs/``, and must stay the only copy of
the code. MkDocs only collects files under ``docs_dir``, so ``on_files`` adds it as a plain
``File`` whose source directory is the project root; mkdocs-jupyter then renders and executes it
like any notebook under ``docs/``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]  # docs/hooks/docs.py -> the project root
MODULE = "scratch_mlp.py"

# Where the site serves MathJax from; mkdocs.yml lists this path under extra_javascript.
MATHJAX_DEST = "javascripts/mathjax/tex-svg.js"
REFERENCE_PAGE = "reference.md"


def mathjax_file() -> Path:
    """The single-file MathJax 3 build (TeX input, SVG output, no font files) of the pinned package.

    The package is ``django-static-mathjax`` on PyPI; it installs the module ``mathjax``.
    """
    import mathjax

    path = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5" / "tex-svg.js"
    if not path.is_file():
        raise FileNotFoundError(f"MathJax is not where the pinned package puts it: {path}")
    return path


# Run before mkdocs-jupyter's on_files, which decides what is a notebook page.
@event_priority(100)
def on_files(files: Files, config) -> Files:
    site_dir, directory_urls = config.site_dir, config.use_directory_urls
    files.append(File(MODULE, str(ROOT), site_dir, directory_urls))
    tex_svg = mathjax_file()
    files.append(
        File(
            tex_svg.name,
            src_dir=str(tex_svg.parent),
            dest_dir=site_dir,
            use_directory_urls=directory_urls,
            dest_uri=MATHJAX_DEST,
        )
    )
    files.append(File.generated(config, REFERENCE_PAGE, content=reference_markdown(ROOT / MODULE)))
    return files


# --- The reference page ---------------------------------------------------------------------


def reference_markdown(module_path: Path) -> str:
    """Markdown for every public function and class of the module, grouped by the section that
    defines it, each with its signature and its docstring."""
    source = module_path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    sections = _section_starts(source)
    page_url = module_path.name  # a link MkDocs resolves to the rendered page
    lines = [
        "# Reference",
        "",
        f"Every public function and class of [`{module_path.name}`]({page_url}), in the order the "
        "file defines them, under the section that introduces them. Signatures and text are "
        "taken from the code and its docstrings when the site is built.",
        "",
    ]
    current = "no section yet"
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) or node.name.startswith("_"):
            continue
        section = _section_of(sections, node.lineno)
        if section != current:
            current = section
            if section is None:
                lines += ["## At the top of the file", ""]
            else:
                title, anchor = section
                lines += [f"## {title}", "", f"Explained in [{title}]({page_url}#{anchor}).", ""]
        lines += _entry(node, source)
    return "\n".join(lines) + "\n"


def _section_starts(source: str) -> list[tuple[int, str]]:
    """(line number, title) of each ``# ## title`` heading in the module's markdown cells."""
    return [
        (number, match.group(1).strip())
        for number, line in enumerate(source.splitlines(), start=1)
        if (match := re.match(r"# ## (.+)", line))
    ]


def _section_of(sections, lineno: int):
    """The (title, anchor) of the last section heading above ``lineno``, or None."""
    above = [title for number, title in sections if number < lineno]
    if not above:
        return None
    return above[-1], _anchor(above[-1])


def _anchor(title: str) -> str:
    """The id mkdocs-jupyter gives a heading."""
    from mkdocs_jupyter.utils import slugify

    return slugify(title)


def _entry(node, source: str) -> list[str]:
    if isinstance(node, ast.ClassDef):
        init = next((n for n in node.body if _is_method(n, "__init__")), None)
        signature = _signature(f"class {node.name}", init, source) if init else f"class {node.name}"
        lines = [f"### `{node.name}`", "", "```python", signature, "```", ""]
        lines += _docstring(node)
        for method in node.body:
            if isinstance(method, ast.FunctionDef) and not method.name.startswith("_"):
                name = f"{node.name}.{method.name}"
                lines += [f"#### `{name}`", "", "```python", _signature(name, method, source)]
                lines += ["```", ""] + _docstring(method)
        return lines
    signature = _signature(node.name, node, source)
    return [f"### `{node.name}`", "", "```python", signature, "```", ""] + _docstring(node)


def _is_method(node, name: str) -> bool:
    return isinstance(node, ast.FunctionDef) and node.name == name


def _signature(name: str, function: ast.FunctionDef, source: str, width: int = 88) -> str:
    """``name(a, b: int = 1, *, c=None) -> str``, annotations and defaults as the code spells
    them (``self`` left out), one parameter a line when the whole would be wider than ``width``."""
    args = function.args
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    parts = [_parameter(a, d, source) for a, d in zip(positional, defaults, strict=True)]
    if args.posonlyargs:
        parts.insert(len(args.posonlyargs), "/")
    if args.vararg:
        parts.append("*" + _parameter(args.vararg, None, source))
    elif args.kwonlyargs:
        parts.append("*")
    kw_defaults = args.kw_defaults
    parts += [_parameter(a, d, source) for a, d in zip(args.kwonlyargs, kw_defaults, strict=True)]
    if args.kwarg:
        parts.append("**" + _parameter(args.kwarg, None, source))
    if parts and parts[0] == "self":
        parts = parts[1:]
    returns = f" -> {ast.get_source_segment(source, function.returns)}" if function.returns else ""
    one_line = f"{name}({', '.join(parts)}){returns}"
    if len(one_line) <= width:
        return one_line
    return f"{name}(\n" + "".join(f"    {part},\n" for part in parts) + f"){returns}"


def _parameter(arg: ast.arg, default, source: str) -> str:
    text = arg.arg
    value = ast.get_source_segment(source, default) if default is not None else None
    if arg.annotation is not None:
        text += f": {ast.get_source_segment(source, arg.annotation)}"
        return text + (f" = {value}" if value is not None else "")
    return text + (f"={value}" if value is not None else "")


def _docstring(node) -> list[str]:
    """The docstring as Markdown: ````x```` becomes ```x```, doctest examples become code blocks."""
    text = ast.get_docstring(node)
    if not text:
        return []
    out, in_example = [], False
    for line in text.splitlines():
        is_example = line.startswith(">>>") or (in_example and line.strip())
        if is_example and not in_example:
            out += ["```pycon"]
        elif in_example and not is_example:
            out += ["```"]
        in_example = bool(is_example)
        out.append(line if in_example else line.replace("``", "`"))
    if in_example:
        out.append("```")
    return out + [""]


def on_page_context(context, page, config, nav):
    """Every page gives the left navigation's width to the code: the file's 100-character lines
    and the benchmark's table must fit a 1280-pixel window. The tabs under the header still
    navigate, and each page has one level of sections, which the table of contents shows."""
    hide = list(page.meta.get("hide", []))
    page.meta["hide"] = [*hide, "navigation"] if "navigation" not in hide else hide
    return context
