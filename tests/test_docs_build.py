"""The docs site builds strictly, from the top-level module, and shows what the code produced."""

from __future__ import annotations

import base64
import html
import html.parser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from docs_support import (
    NOTEBOOK_PAGES,
    ROOT,
    mkdocs_build,
    require_docs_packages,
    saved_figures,
)

MODULE = "scratch_mlp.py"


def page_html(site, url: str) -> str:
    return (site.path / url / "index.html").read_text(encoding="utf-8")


def output_images(page: str) -> list[bytes]:
    """The PNGs shown in the output areas of an executed page, in page order."""
    return [
        base64.b64decode(data)
        for data in re.findall(
            r'jp-RenderedImage jp-OutputArea-output"[^>]*>\s*<img [^>]*src="data:image/png;base64,'
            r'([^"]+)"',
            page,
        )
    ]


def test_strict_build_logs_no_warning(built_site):
    # --strict already turns a warning into a failed build; this also names it.
    warnings = [line for line in built_site.log.splitlines() if re.match(r"WARNING\b", line)]
    assert warnings == []


def test_module_is_published_from_the_top_level_file(built_site):
    assert not list((ROOT / "docs").rglob(MODULE)), "docs/ must not keep a copy of the module"
    assert (built_site.path / "scratch_mlp" / "index.html").is_file()
    published = built_site.path / "scratch_mlp" / MODULE
    assert published.read_bytes() == (ROOT / MODULE).read_bytes()


def test_saved_figures_are_read_from_the_code():
    # The six figures of the module today, in the order the sections write them.
    assert saved_figures(MODULE) == [
        "01_article_loss.png",
        "01_article_fit.png",
        "02_dead_neurons.png",
        "05_bias_correction.png",
        "05_sgd_vs_adam.png",
        "06_spiral_decision_regions.png",
    ]


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=lambda p: p.slug)
def test_page_shows_each_figure_the_build_wrote(built_site, page):
    rendered = page_html(built_site, page.url)
    images = output_images(rendered)
    assert len(images) == page.figures
    # save_figure prints the path it wrote, then shows that file: the image under each path must
    # be the PNG this build just wrote there, byte for byte.
    written = re.findall(r"figure written: (\S+?)\s*</pre>", rendered)
    assert written, "no figure was written by this page's build"
    for path, image in zip(written, images, strict=False):
        png = ROOT / path
        assert png.stat().st_mtime >= built_site.started - 1, f"{path} was not written by the build"
        assert image == png.read_bytes(), f"the page does not show the {path} just written"


def test_printed_results_appear_under_their_cells(built_site):
    text = html.unescape(re.sub(r"<[^>]+>", "", page_html(built_site, "scratch_mlp/")))
    for printed in (
        "Step  2000 loss=",
        "curvature of L in W2, at init",
        "identical to the article's loop, bit for bit: True",
        "test accuracy",
    ):
        assert printed in text


def test_a_failing_cell_fails_the_build(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("mkdocs.yml", "docs", "hooks", "overrides"):
        source = ROOT / name
        copy = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, project / name)
    (project / MODULE).write_text(
        "# %% [markdown]\n# # A module whose second cell raises\n\n# %%\nx = 1\n\n# %%\n"
        'raise RuntimeError("this cell fails on purpose")\n',
        encoding="utf-8",
    )
    result = mkdocs_build(project, tmp_path / "site")
    assert result.returncode != 0
    assert "this cell fails on purpose" in result.stdout + result.stderr


def test_reference_documents_every_public_function_and_class(built_site):
    sys.path.insert(0, str(ROOT))
    try:
        import scratch_mlp
    finally:
        sys.path.remove(str(ROOT))
    public = [
        name
        for name, value in vars(scratch_mlp).items()
        if not name.startswith("_")
        and callable(value)
        and getattr(value, "__module__", None) == "scratch_mlp"
    ]
    assert len(public) > 20
    reference = page_html(built_site, "reference/")
    for name in public:
        assert f'id="{name.lower()}"' in reference, f"{name} is missing from the reference"
    # Its links to the sections of the training-loop page land on existing headings.
    anchors = set(re.findall(r'href="\.\./scratch_mlp/#([^"]+)"', reference))
    assert anchors
    ids = set(re.findall(r'id="([^"]+)"', page_html(built_site, "scratch_mlp/")))
    assert anchors <= ids


class _Resources(html.parser.HTMLParser):
    """The URLs a page loads by itself (scripts, styles, icons, images, frames), not its links."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and attrs.get("rel") not in ("canonical", "alternate", "prev", "next"):
            self.urls.append(attrs.get("href"))
        elif tag in ("script", "img", "iframe", "source", "audio", "video", "embed"):
            self.urls.append(attrs.get("src"))


def test_pages_load_nothing_from_outside_the_site(built_site):
    pages = list(built_site.path.rglob("*.html"))
    assert len(pages) >= 3
    for page in pages:
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        external = [u for u in parser.urls if u and re.match(r"(https?:)?//", u)]
        assert external == [], f"{page.relative_to(built_site.path)} loads {external}"
    # The math engine is there, from the pinned package.
    assert (built_site.path / "javascripts" / "mathjax" / "tex-svg.js").stat().st_size > 1_000_000


def test_download_links_serve_the_sources(built_site):
    sources = {Path(page.source).name: ROOT / page.source for page in NOTEBOOK_PAGES}
    for page in built_site.path.rglob("*.html"):
        for href in re.findall(r'<a [^>]*href="([^"]+)"[^>]*\bdownload\b', page.read_text("utf-8")):
            target = (page.parent / href).resolve()
            assert target.is_file(), f"{page.relative_to(built_site.path)}: {href} is missing"
            assert target.read_bytes() == sources[target.name].read_bytes()
    home = (built_site.path / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<a [^>]*href="scratch_mlp/scratch_mlp.py"[^>]*\bdownload\b', home)
    notebook = page_html(built_site, "scratch_mlp/")
    assert re.search(r'<a [^>]*href="scratch_mlp.py"[^>]*\bdownload\b', notebook)


def test_serve_watches_the_top_level_module():
    require_docs_packages()
    from mkdocs.config import load_config

    config = load_config(str(ROOT / "mkdocs.yml"))
    assert str(ROOT / MODULE) in [os.path.abspath(path) for path in config.watch]


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)


@pytest.mark.parametrize("doc", sorted((ROOT / "docs").glob("*.md")), ids=lambda p: p.name)
def test_complete_examples_in_the_docs_run(doc: Path):
    # A block that starts with an import is a complete program: it must run against the module.
    blocks = [b for b in python_blocks(doc.read_text("utf-8")) if b.startswith(("import", "from"))]
    for block in blocks:
        result = subprocess.run(
            [sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, f"{doc.name}:\n{block}\n{result.stderr}"
