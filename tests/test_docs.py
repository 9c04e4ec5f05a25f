"""The docs site: a strict build, and the built site read in Debian's Chromium.

The build tests run ``mkdocs build --strict`` into a temporary folder, as the README says, and
check that it shows what the code just produced. The browser tests serve that build on
127.0.0.1 and check what a reader sees: figures loaded, math typeset, nothing requested from
outside the site, no console errors, code that fits a 1280-pixel window. They save screenshots
of each executed page's top, of its first figure and of the dark palette under test-artifacts/
(or $DOCS_TEST_ARTIFACTS).

The pages they check are listed in docs_support.py. Without the docs requirements or without
Chromium they skip, unless REQUIRE_BROWSER=1 (set by .ci/run), which makes a skip a failure.
"""

from __future__ import annotations

import base64
import functools
import html
import html.parser
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import MODULE_FIGURES
from docs_support import (
    NOTEBOOK_PAGES,
    ROOT,
    math_in_markdown,
    mkdocs_build,
    require_docs_packages,
    saved_figures,
    section_titles,
    skip_unless_required,
)

MODULE = "scratch_mlp.py"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("DOCS_TEST_ARTIFACTS", ROOT / "test-artifacts"))
VIEWPORT = {"width": 1280, "height": 900}


# --- Fixtures: one build per session, a local server for it, a browser


@dataclass(frozen=True)
class BuiltSite:
    path: Path
    log: str
    started: float  # time.time() when the build started


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> BuiltSite:
    site = tmp_path_factory.mktemp("site")
    started = time.time()
    result = mkdocs_build(ROOT, site)
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    return BuiltSite(site, log, started)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def site_url(built_site):
    """The built site served on 127.0.0.1, as ``http://127.0.0.1:<port>/``."""
    handler = functools.partial(_QuietHandler, directory=str(built_site.path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, driven by Playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_unless_required("playwright is not installed (pip install -r requirements-test.txt)")
    if not Path(CHROMIUM).is_file():
        skip_unless_required(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield chromium
        chromium.close()


# --- The build


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
    # The module's figures, in the order the sections write them.
    assert saved_figures(MODULE) == MODULE_FIGURES


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=lambda p: p.slug)
def test_page_shows_each_figure_the_build_wrote(built_site, page):
    rendered = page_html(built_site, page.url)
    images = output_images(rendered)
    assert len(images) == page.figures
    # save_figure prints the path it wrote, then shows that file: the image under each path must
    # be the PNG this build just wrote there, byte for byte.
    written = re.findall(r"figure written: (\S+?)\s*</pre>", rendered)
    assert len(written) == page.figures, "each figure shown is one this page's build wrote"
    for path, image in zip(written, images, strict=True):
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
    for name in ("mkdocs.yml", "docs"):
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
    added = str(ROOT) not in sys.path
    if added:
        sys.path.insert(0, str(ROOT))
    try:
        import scratch_mlp
    finally:
        if added:
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


# --- In the browser


# The article's text with code, math already typeset and hidden copy-button sources left out:
# whatever MathJax should have typeset and did not is still in here.
PROSE_JS = """() => {
  const skip = "pre, code, script, style, mjx-container, .clipboard-copy-txt";
  const article = document.querySelector("article");
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  const parts = [];
  while (walker.nextNode()) {
    if (!walker.currentNode.parentElement.closest(skip)) parts.push(walker.currentNode.data);
  }
  return parts.join("");
}"""


@dataclass
class Visit:
    """A page loaded in a fresh browser context, with everything it asked the network for."""

    page: object
    base_url: str
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def outside(self) -> list[str]:
        return [u for u in self.requests if not u.startswith((self.base_url, "data:", "blob:"))]


def visit(browser, base_url: str, path: str, color_scheme: str = "light") -> Visit:
    context = browser.new_context(viewport=VIEWPORT, color_scheme=color_scheme)
    page = context.new_page()
    seen = Visit(page, base_url)
    page.on("request", lambda request: seen.requests.append(request.url))
    page.on("requestfailed", lambda request: seen.failed.append(request.url))
    page.on(
        "response",
        lambda response: response.status >= 400 and seen.failed.append(response.url),
    )
    page.on(
        "console",
        lambda message: message.type == "error" and seen.console_errors.append(message.text),
    )
    page.on("pageerror", lambda error: seen.console_errors.append(str(error)))
    # Anything addressed outside the local server is refused (and recorded above), never fetched.
    context.route(
        re.compile(r"^(?!" + re.escape(base_url) + ")https?://.*"), lambda route: route.abort()
    )
    page.goto(base_url + path, wait_until="load")
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("() => MathJax.startup.promise")
    page.evaluate("() => Promise.all([...document.images].map(i => i.decode().catch(() => 0)))")
    return seen


@pytest.fixture(scope="module", params=NOTEBOOK_PAGES, ids=lambda p: p.slug)
def notebook(request, browser, site_url):
    """An executed page, loaded once for the tests below."""
    seen = visit(browser, site_url, request.param.url)
    yield request.param, seen
    seen.page.context.close()


def test_every_figure_loads(notebook):
    page, seen = notebook
    widths = seen.page.eval_on_selector_all(
        "article .jp-OutputArea-output img", "images => images.map(i => i.naturalWidth)"
    )
    assert len(widths) == page.figures
    assert all(width > 0 for width in widths), widths


def test_every_equation_is_typeset(notebook):
    page, seen = notebook
    typeset = seen.page.eval_on_selector_all("article mjx-container", "m => m.length")
    assert typeset == len(math_in_markdown(page.source))
    unparsed = seen.page.evaluate(
        """() => Array.from(MathJax.startup.document.math)
             .filter(m => m.typesetRoot.querySelector('[data-mml-node="merror"]'))
             .map(m => m.math)"""
    )
    assert unparsed == [], "MathJax could not parse this math"
    prose = seen.page.evaluate(PROSE_JS)
    for raw in ("$$", "\\(", "\\["):
        assert raw not in prose
    assert not re.search(r"\$[^$\s][^$]*\$", prose), "inline math left as text"


def test_copy_buttons_copy_the_code_not_typeset_math(notebook):
    _, seen = notebook
    differing = seen.page.evaluate(
        """() => [...document.querySelectorAll(".clipboard-copy-txt")].filter(copy => {
             const code = copy.parentElement.querySelector("pre").textContent;
             return copy.textContent.trimEnd() !== code.trimEnd();
           }).map(copy => copy.id)"""
    )
    assert differing == []


def test_nothing_is_requested_outside_the_site_and_nothing_fails(notebook):
    _, seen = notebook
    assert seen.outside() == []
    assert seen.failed == []
    assert seen.console_errors == []


def blocks_scrolling_sideways(seen: Visit) -> list[str]:
    """The first line of each code or output block wider than its box."""
    assert seen.page.viewport_size["width"] == 1280
    # Material lets a Markdown page's <code> scroll inside its <pre>; a notebook's <pre> scrolls.
    return seen.page.eval_on_selector_all(
        "article pre, article pre > code",
        """blocks => blocks.filter(b => b.scrollWidth > b.clientWidth)
                          .map(b => b.textContent.split("\\n")[0])""",
    )


def test_code_fits_a_1280_pixel_window(notebook):
    _, seen = notebook
    assert blocks_scrolling_sideways(seen) == []


def test_table_of_contents_lists_the_sections(notebook):
    page, seen = notebook
    toc = seen.page.locator(".md-sidebar--secondary .md-nav__link")
    assert toc.first.is_visible()
    entries = toc.all_inner_texts()
    for title in section_titles(page.source):
        assert any(entry.startswith(title) for entry in entries), f"{title!r} not in the TOC"


def test_download_button_serves_the_file(notebook):
    page, seen = notebook
    button = seen.page.locator("article a[download]")
    assert button.is_visible()
    response = seen.page.request.get(seen.page.url + button.get_attribute("href"))
    assert response.ok
    assert response.body() == (ROOT / page.source).read_bytes()


def test_screenshots(notebook, browser, site_url):
    page, seen = notebook
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    seen.page.evaluate("() => window.scrollTo(0, 0)")
    seen.page.screenshot(path=ARTIFACTS / f"{page.slug}-top.png", animations="disabled")
    names = ["top", "dark"]
    if page.figures:
        figure = seen.page.locator("article .jp-OutputArea-output img").first
        figure.screenshot(path=ARTIFACTS / f"{page.slug}-figure.png", animations="disabled")
        names.append("figure")

    # The palette toggle switches to the dark scheme; the screenshot shows the first figure
    # with the code that drew it.
    dark = visit(browser, site_url, page.url)
    try:
        dark.page.locator("label[title='Switch to dark mode']").click()
        dark.page.wait_for_function("() => document.body.dataset.mdColorScheme === 'slate'")
        if page.figures:
            dark.page.locator("article .jp-OutputArea-output img").first.evaluate(
                "image => image.scrollIntoView({block: 'end'})"
            )
        dark.page.screenshot(path=ARTIFACTS / f"{page.slug}-dark.png", animations="disabled")
        assert dark.outside() == [] and dark.console_errors == []
    finally:
        dark.page.context.close()
    for name in names:
        assert (ARTIFACTS / f"{page.slug}-{name}.png").stat().st_size > 10_000


# The Markdown pages, with how many formulas each has at least.
@pytest.mark.parametrize(
    ("path", "formulas"),
    [("", 7), ("reference/", 0), ("benchmark/", 0)],
    ids=["home", "ref", "benchmark"],
)
def test_markdown_pages_are_self_contained_and_typeset(browser, site_url, path, formulas):
    seen = visit(browser, site_url, path)
    try:
        assert seen.outside() == []
        assert seen.failed == []
        assert seen.console_errors == []
        # pymdownx.arithmatex wraps each formula in an .arithmatex element for MathJax.
        found = seen.page.eval_on_selector_all("article .arithmatex", "m => m.length")
        typeset = seen.page.eval_on_selector_all(
            "article .arithmatex mjx-container", "m => m.length"
        )
        assert found >= formulas
        assert typeset == found
        errors = seen.page.eval_on_selector_all('[data-mml-node="merror"]', "e => e.length")
        assert errors == 0
        prose = seen.page.evaluate(PROSE_JS)
        assert "\\(" not in prose and "$$" not in prose
        assert blocks_scrolling_sideways(seen) == []
    finally:
        seen.page.context.close()
