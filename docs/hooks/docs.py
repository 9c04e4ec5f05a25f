"""MkDocs hooks: publish the top-level module as a page, serve MathJax from its pinned package,
and fold the executed pages' plumbing and asides.

``scratch_mlp.py`` lives at the project root, outside ``docs/``, and must stay the only copy of
the code. MkDocs only collects files under ``docs_dir``, so ``on_files`` adds it as a plain
``File`` whose source directory is the project root; mkdocs-jupyter then renders and executes it
like any notebook under ``docs/``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

# MkDocs puts this folder on sys.path while it loads the hook.
from folds import FoldError, fold_notebook, toc_tokens
from mkdocs.exceptions import Abort, PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.toc import get_toc

ROOT = Path(__file__).resolve().parents[2]  # docs/hooks/docs.py -> the project root
MODULE = "scratch_mlp.py"

# The MathJax files the site serves, as paths inside the package's es5 folder: the single-file
# build (TeX input, SVG output, no font files) and the extension that reads \_ inside \text{}.
# They keep their relative places under javascripts/mathjax/, where MathJax's loader looks for
# its extensions; mkdocs.yml lists the first under extra_javascript.
MATHJAX_FILES = ("tex-svg.js", "input/tex/extensions/textmacros.js")
MATHJAX_DEST = "javascripts/mathjax"


def mathjax_dir() -> Path:
    """The es5 folder of MathJax 3 in the pinned package, ``django-static-mathjax`` on PyPI (its
    module is ``mathjax``)."""
    import mathjax

    folder = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    for name in MATHJAX_FILES:
        if not (folder / name).is_file():
            raise PluginError(f"MathJax is not where the pinned package puts it: {folder / name}")
    return folder


def on_config(config):
    # Without PyTorch the "Against PyTorch" page would fail halfway through the build with a
    # kernel's traceback; say what is missing before anything runs. Abort, unlike a
    # PluginError, prints this line alone, without "Aborted with a BuildError!" under it.
    if importlib.util.find_spec("torch") is None:
        raise Abort(
            "The 'Against PyTorch' page needs PyTorch: pip install -r requirements-docs.txt"
        )
    # One thread for each executed page's kernel, which inherits this environment. The pages
    # compute on small arrays, where threads waiting on each other cost more than they give:
    # on two cores the PyTorch page ran in half the time with one thread. One thread also
    # prints the same digits whatever the machine's number of cores. An explicit setting wins.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    return config


# Run before mkdocs-jupyter's on_files, which decides what is a notebook page.
@event_priority(100)
def on_files(files: Files, config) -> Files:
    site_dir, directory_urls = config.site_dir, config.use_directory_urls
    files.append(File(MODULE, str(ROOT), site_dir, directory_urls))
    source = mathjax_dir()
    for name in MATHJAX_FILES:
        files.append(
            File(
                name,
                src_dir=str(source),
                dest_dir=site_dir,
                use_directory_urls=directory_urls,
                dest_uri=f"{MATHJAX_DEST}/{name}",
            )
        )
    return files


def on_page_content(html: str, page, config, files) -> str:
    """Executed pages: collapse the code cells tagged ``fold`` and the markdown cells tagged
    ``deeper`` (see folds.py), and read the table of contents from the headings left in view."""
    if not page.file.src_uri.endswith(".py"):
        return html
    try:
        html, hidden = fold_notebook(html)
    except FoldError as error:
        raise PluginError(f"{page.file.src_uri}: {error}") from error
    depth = config.plugins["mkdocs-jupyter"].config["toc_depth"]
    page.toc = get_toc(toc_tokens(html, depth, leave_out=hidden))
    return html


def on_page_context(context, page, config, nav):
    """Every page gives the left navigation's width to the code: the file's 100-character lines
    and the benchmark's table must fit a 1280-pixel window. The tabs under the header still
    navigate, and each page has one level of sections, which the table of contents shows."""
    hide = list(page.meta.get("hide", []))
    page.meta["hide"] = [*hide, "navigation"] if "navigation" not in hide else hide
    return context
