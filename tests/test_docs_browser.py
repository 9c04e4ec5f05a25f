"""The built site, read in Debian's Chromium as a reader sees it: figures loaded, math typeset,
nothing requested from outside the site, no console errors, code that fits a 1280-pixel window.

Screenshots of each executed page's top, of its first figure and of the dark palette are saved
under test-artifacts/ (or $DOCS_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from docs_support import NOTEBOOK_PAGES, ROOT, math_in_markdown, section_titles

ARTIFACTS = Path(os.environ.get("DOCS_TEST_ARTIFACTS", ROOT / "test-artifacts"))
VIEWPORT = {"width": 1280, "height": 900}

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
    return seen.page.eval_on_selector_all(
        "article pre",
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
    figure = seen.page.locator("article .jp-OutputArea-output img").first
    figure.screenshot(path=ARTIFACTS / f"{page.slug}-figure.png", animations="disabled")

    # The palette toggle switches to the dark scheme; the screenshot shows the first figure
    # with the code that drew it.
    dark = visit(browser, site_url, page.url)
    try:
        dark.page.locator("label[title='Switch to dark mode']").click()
        dark.page.wait_for_function("() => document.body.dataset.mdColorScheme === 'slate'")
        dark.page.locator("article .jp-OutputArea-output img").first.evaluate(
            "image => image.scrollIntoView({block: 'end'})"
        )
        dark.page.screenshot(path=ARTIFACTS / f"{page.slug}-dark.png", animations="disabled")
        assert dark.outside() == [] and dark.console_errors == []
    finally:
        dark.page.context.close()
    for name in ("top", "figure", "dark"):
        assert (ARTIFACTS / f"{page.slug}-{name}.png").stat().st_size > 10_000


# The Markdown pages, with how many formulas each has at least.
@pytest.mark.parametrize(("path", "formulas"), [("", 7), ("reference/", 0)], ids=["home", "ref"])
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
