"""MkDocs hooks: publish the top-level module as a page and serve MathJax from its pinned package.

``scratch_mlp.py`` lives at the project root, outside ``docs/``, and must stay the only copy of
the code. MkDocs only collects files under ``docs_dir``, so ``on_files`` adds it as a plain
``File`` whose source directory is the project root; mkdocs-jupyter then renders and executes it
like any notebook under ``docs/``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from mkdocs.exceptions import Abort
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]  # docs/hooks/docs.py -> the project root
MODULE = "scratch_mlp.py"

# Where the site serves MathJax from; mkdocs.yml lists this path under extra_javascript.
MATHJAX_DEST = "javascripts/mathjax/tex-svg.js"


def mathjax_file() -> Path:
    """The single-file MathJax 3 build (TeX input, SVG output, no font files) of the pinned package.

    The package is ``django-static-mathjax`` on PyPI; it installs the module ``mathjax``.
    """
    import mathjax

    path = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5" / "tex-svg.js"
    if not path.is_file():
        raise FileNotFoundError(f"MathJax is not where the pinned package puts it: {path}")
    return path


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
    return files


def on_page_context(context, page, config, nav):
    """Every page gives the left navigation's width to the code: the file's 100-character lines
    and the benchmark's table must fit a 1280-pixel window. The tabs under the header still
    navigate, and each page has one level of sections, which the table of contents shows."""
    hide = list(page.meta.get("hide", []))
    page.meta["hide"] = [*hide, "navigation"] if "navigation" not in hide else hide
    return context
