"""The docs site: the build's hooks on small inputs, then one ``mkdocs build --strict`` per test
session, read as files and in Debian's Chromium. The browser loads each page of the nav once and
measures everything in that visit: as a reader first sees it (1280 pixels, folds closed), with
every fold open at 1280 and at a 390-pixel phone width, then in the dark palette. Without the
docs requirements or Chromium these tests skip, unless REQUIRE_BROWSER=1 (as in CI).
"""

from __future__ import annotations

import base64
import doctest
import functools
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, missing_docs_package, start_build

from docs.hooks import folds

MODULE = ROOT / "scratch_mlp.py"


@dataclass(frozen=True)
class Page:
    title: str
    source: Path  # the file it is rendered from: under docs/, or the module at the project root
    url: str  # its folder in the built site: "" for Home, "step_size/" for step_size.py

    @property
    def slug(self) -> str:
        return self.url.strip("/") or "home"


def _page(title: str, name: str) -> Page:
    source = ROOT / "docs" / name
    url = "" if name == "index.md" else Path(name).with_suffix("").as_posix() + "/"
    return Page(title, source if source.is_file() else ROOT / name, url)


# The pages of the nav in mkdocs.yml (BaseLoader reads every value as text, its !ENV tags too).
_NAV = yaml.load((ROOT / "mkdocs.yml").read_text("utf-8"), yaml.BaseLoader)["nav"]
PAGES = [_page(title, name) for entry in _NAV for title, name in entry.items()]
EXECUTED = [page for page in PAGES if page.source.suffix == ".py"]  # by mkdocs-jupyter


def skip_unless_required(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and REQUIRE_BROWSER=1 forbids skipping")
    pytest.skip(reason)


def require_docs_packages() -> None:
    if missing := missing_docs_package():
        skip_unless_required(f"{missing} is not installed: pip install -r requirements-test.txt")


def markdown(page: Page) -> str:
    """The page's Markdown: a ``.md`` page whole, the markdown cells of a ``.py`` page."""
    if page not in EXECUTED:
        return page.source.read_text("utf-8")
    import jupytext

    cells = jupytext.read(page.source).cells
    return "\n\n".join(cell.source for cell in cells if cell.cell_type == "markdown")


def code_cells(page: Page) -> list[tuple[str, str]]:
    """(marker line, code) of each code cell of a jupytext page, read line by line."""
    cells = []
    for line in page.source.read_text("utf-8").splitlines():
        if line.startswith("# %%"):
            cells.append((line, []))
        elif cells:
            cells[-1][1].append(line)
    return [(mark, "\n".join(code).strip()) for mark, code in cells if "[markdown]" not in mark]


def text(fragment: str) -> str:
    """The text of an HTML fragment, without its scripts and styles, spaces collapsed."""
    fragment = re.sub(r"<(script|style)\b.*?</\1>|<[^>]+>", " ", fragment, flags=re.DOTALL)
    return " ".join(html.unescape(fragment).split())


def download_links(page_html: str) -> list[str]:
    return re.findall(r'<a [^>]*href="([^"]+)"[^>]*\bdownload\b', page_html)


# --- The hooks, on small pages (no kernel, no build)


def render(tmp_path: Path, *cells) -> str:
    """The page mkdocs-jupyter renders from cells given as (type, source, tags, printed)."""
    require_docs_packages()
    import nbformat
    from mkdocs_jupyter import convert

    notebook = nbformat.v4.new_notebook()
    for kind, source, tags, printed in cells:
        cell = getattr(nbformat.v4, f"new_{kind}_cell")(source, metadata={"tags": tags})
        if printed:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
        notebook.cells.append(cell)
    nbformat.write(notebook, tmp_path / "page.ipynb")
    return convert.nb2html(str(tmp_path / "page.ipynb"), execute=False, no_prompt=True)


def test_tagged_cells_fold_under_their_titles_and_fail_without_one(tmp_path):
    aside = "**Going deeper: an aside.**\n\nWhy $\\lambda > 2/\\eta$.\n\n### Inside"
    page = render(
        tmp_path,
        ("markdown", "# Title\n\n## 1. Shapes of `d_out`\n\n### 1.1 Sub\n\n#### Too deep", [], 0),
        ("code", "# Plot helpers\nx = 1", ["fold"], "fold output\n"),
        ("code", "# The answer\ny = 2", ["answer"], "is 2\n"),
        ("code", "z = 3", [], "shown\n"),
        ("markdown", aside, ["deeper"], 0),
        ("markdown", "#### Going deeper: $W$ at init\n\nBody.", ["deeper"], 0),
        ("markdown", "## 2. Next", [], 0),
    )
    folded, hidden = folds.fold_notebook(page)
    # Each box's class, title and text, where code shows twice: as code and in its copy button.
    boxes = re.findall(
        r'<details class="([^"]+)"[^>]*><summary>(.*?)</summary>(.*?)</details>', folded, re.S
    )
    assert [(kind, title, text(body)) for kind, title, body in boxes] == [
        ("fold", "Plot helpers", "Copied! # Plot helpers x = 1 # Plot helpers x = 1"),
        ("fold answer", "The answer", "Copied! # The answer y = 2 # The answer y = 2 is 2"),
        ("deeper", "Going deeper: an aside.", "Why $\\lambda > 2/\\eta$. Inside ¶"),
        ("deeper", "Going deeper: $W$ at init", "Body."),
    ]
    outside = text(re.sub(r"<details.*?</details>", "", folded, flags=re.DOTALL))
    assert outside == (
        "Title ¶ 1. Shapes of d_out ¶ 1.1 Sub ¶ Too deep ¶ fold output Copied! z = 3 z = 3 shown "
        "2. Next ¶"
    )
    # Tags are for the build: the page no longer prints them above the code.
    assert '<span class="cell-tag">fold</span>' in page and 'class="cell-tag"' not in folded
    # A heading's id moves to its box; a heading inside a box leaves the table of contents.
    ids = {name: i for i, name in re.findall(r'<h\d id="([^"]+)">([^<]+)', page)}
    assert f'<details class="deeper" id="{ids["Going deeper: $W$ at init"]}">' in folded
    assert hidden == {ids["Inside"]}

    def outline(tokens):
        return [(t["name"], t["id"] in ids.values(), outline(t["children"])) for t in tokens]

    sections = [("1. Shapes of <code>d_out</code>", True, [("1.1 Sub", True, [])])]
    expected = [("Title", True, [*sections, ("2. Next", True, [])])]
    assert outline(folds.toc_tokens(folded, depth=3, leave_out=hidden)) == expected
    # A tagged cell without its title stops the build.
    for cell, message in [
        (("code", "x = 1", ["fold"], 0), "must start with a comment"),
        (("markdown", "Plain text first.", ["deeper"], 0), "heading or a bold phrase"),
    ]:
        with pytest.raises(folds.FoldError, match=message):
            folds.fold_notebook(render(tmp_path, cell))


def test_no_markdown_heading_sits_inside_a_code_cell():
    # A `# %% [markdown]` marker left out turns the prose under it into comments of the code.
    misplaced = [
        (page.source.name, line)
        for page in EXECUTED
        for _, source in code_cells(page)
        for line in re.findall(r"^# #{1,6} .*", source, flags=re.M)
    ]
    assert misplaced == []


def test_without_pytorch_the_build_stops_with_one_line(tmp_path):
    require_docs_packages()
    # An interpreter on which PyTorch looks uninstalled: `import torch` fails, find_spec is None.
    (tmp_path / "sitecustomize.py").write_text('import sys\nsys.modules["torch"] = None\n')
    pythonpath = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    build = start_build(tmp_path / "site", env={"PYTHONPATH": pythonpath})
    log = build.communicate(timeout=120)[0]
    assert build.returncode != 0
    assert [line for line in log.splitlines() if line.strip()] == [
        "The 'Against PyTorch' page needs PyTorch: pip install -r requirements-docs.txt"
    ]


# --- The build, read as files


@pytest.fixture(scope="session")
def site(site_build) -> dict:
    """The strict build, which conftest.py starts as soon as the tests are collected."""
    require_docs_packages()
    path, started, process = site_build
    log = process.communicate(timeout=600)[0]
    assert process.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    # --strict fails on a warning; this names it.
    assert [line for line in log.splitlines() if re.match(r"WARNING\b", line)] == []
    pages = {page.slug: (path / page.url / "index.html").read_text("utf-8") for page in PAGES}
    return {"path": path, "started": started, **pages}


def test_the_pages_show_the_figures_the_build_wrote(site):
    # The pages run in the project root and write their figures into figures/: every PNG written
    # there during the build is shown on a page, byte for byte, and every figure shown is one.
    written = {
        png.name: png.read_bytes()
        for png in (ROOT / "figures").glob("*.png")
        if png.stat().st_mtime >= site["started"] - 1
    }
    shown = []
    for page in EXECUTED:
        for output in re.split(r'<div class="[^"]*\bjp-OutputArea-output\b', site[page.slug])[1:]:
            shown += re.findall(r'<img [^>]*src="data:image/png;base64,([^"]+)"', output)
    shown = sorted(base64.b64decode(data) for data in shown)
    assert written and shown == sorted(written.values()), f"written: {sorted(written)}"


def test_reference_lists_exactly_the_modules_all_with_examples_as_code(site):
    import scratch_mlp

    # mkdocstrings gives each object's heading its dotted path as id.
    listed = re.findall(r'<h2 id="scratch_mlp\.([A-Za-z_]\w*)"', site["reference"])
    assert sorted(listed) == sorted(scratch_mlp.__all__)
    # Each example doctest finds in those docstrings shows as highlighted code, not a quotation.
    finder = doctest.DocTestFinder()
    found = [finder.find(getattr(scratch_mlp, n), n, module=scratch_mlp) for n in listed]
    examples = sum(len(test.examples) for tests in found for test in tests)
    assert examples > 0 and site["reference"].count("&gt;&gt;&gt;") == examples
    assert site["reference"].count('<span class="gp">&gt;&gt;&gt; </span>') == examples


def test_home_links_every_page_of_the_nav(site):
    article = site["home"].split("<article", 1)[1].split("</article>", 1)[0]
    links = {href.split("#")[0] for href in re.findall(r'<a [^>]*href="([^"]+)"', article)}
    assert [page.title for page in PAGES[1:] if page.url not in links] == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.slug)
def test_each_download_link_serves_its_file_and_an_executed_page_its_notebook(site, page, tmp_path):
    links = {Path(href).name: href for href in download_links(site[page.slug])}
    sources = {executed.source.name: executed.source for executed in EXECUTED}
    for href in links.values():
        target = site["path"] / page.url / href
        assert target.is_file(), f"{href} is missing"
        if target.suffix == ".py":  # the very file a page is rendered from
            assert target.read_bytes() == sources[target.name].read_bytes(), href
    if page not in EXECUTED:  # Home offers the module, which the site copies, not docs/
        assert not list((ROOT / "docs").rglob(MODULE.name)), "docs/ keeps a copy of the module"
        assert links == ({MODULE.name: "scratch_mlp/scratch_mlp.py"} if page.url == "" else {})
        return
    assert links[page.source.name] == page.source.name  # the copy next to the page
    # The notebook: its code cells without outputs, the solutions left out, a Python 3 kernel.
    notebook = site["path"] / page.url / links[page.source.stem + ".ipynb"]
    notebook = json.loads(notebook.read_text("utf-8"))
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
    expected = [source for mark, source in code_cells(page) if '"solution"' not in mark]
    assert ["".join(cell["source"]).strip() for cell in code] == expected
    # A page that imports the module links its copy under the buttons; the module needs none.
    imports = re.search(r"^\s*(import|from) scratch_mlp\b", "\n".join(expected), flags=re.M)
    note = re.search(r'<p class="md-downloads__note">(.*?)</p>', site[page.slug], flags=re.S)
    assert bool(note) == bool(imports) == (page.source != MODULE)
    beside = download_links(note.group(1)) if note else []
    if note:
        assert "run in one folder with scratch_mlp.py" in text(note.group(1))
    # What a reader downloads runs: the notebook's imports, in a folder holding only the notebook
    # and the files the page offers beside it.
    for href in [links[page.source.stem + ".ipynb"], *beside]:
        shutil.copy(site["path"] / page.url / href, tmp_path)
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    first_cell = "".join(code[0]["source"])
    run = subprocess.run(
        [sys.executable, "-c", first_cell], cwd=tmp_path, env=environment, capture_output=True
    )
    assert run.returncode == 0, run.stderr.decode()


# --- The build in the browser: each page loaded once, everything measured in that one visit

# Once MathJax has typeset it, the page as a reader first sees it: 1280 pixels, folds closed.
READ_JS = r"""async () => {
  const late = await Promise.race([MathJax.startup.promise.then(() => ""),
    new Promise((done) => setTimeout(done, 20000, "MathJax has not finished typesetting"))]);
  if (late) return {late};
  const article = document.querySelector("article");
  const all = (selector) => [...article.querySelectorAll(selector)];
  // The text outside code, typeset math and the copy buttons' hidden sources: whatever MathJax
  // should have typeset and did not is still in here.
  const prose = article.cloneNode(true);
  prose.querySelectorAll("pre, code, script, style, mjx-container, .clipboard-copy-txt")
    .forEach((element) => element.remove());
  const math = Array.from(MathJax.startup.document.math);
  const tokens = (item) => MathJax.startup.toMML(item.root).replace(/<[^>]*>/g, "");
  const hidden = all("mjx-assistive-mml");  // MathJax's copy of each formula for screen readers
  hidden.forEach((m) => m.style.setProperty("display", "none", "important"));
  const visibleCharacters = article.innerText.length;
  hidden.forEach((m) => m.style.removeProperty("display"));
  return {
    prose: prose.textContent,
    visibleCharacters,
    // Unloaded images, and images without alt text (nbconvert gives those its own sentence).
    images: all("img").filter((i) => !i.naturalWidth).map((i) => i.src.slice(0, 60)).concat(
      all("img").map((i) => i.alt.trim()).filter((alt) => !alt || alt.startsWith("No desc"))),
    typeset: all("mjx-container").length,
    arithmatex: all(".arithmatex").length - all(".arithmatex mjx-container").length,
    unparsed: math.filter((m) => m.typesetRoot.querySelector('[data-mml-node="merror"]'))
                  .map((m) => m.math),
    // A backslash left in typeset math: a macro MathJax read as text.
    backslashes: math.filter((m) => tokens(m).includes("\\")).map((m) => m.math),
    copyDiffers: all(".clipboard-copy-txt").filter((copy) => {
      const code = copy.parentElement.querySelector("pre").textContent;
      return copy.textContent.trimEnd() !== code.trimEnd();
    }).map((copy) => copy.id),
    toc: [...document.querySelectorAll(".md-sidebar--secondary a.md-nav__link")].map((a) => {
      const target = document.getElementById(decodeURIComponent(a.hash.slice(1)));
      const folded = target?.parentElement.closest("details:not([open])");
      return [a.innerText.trim(), target !== null && !folded];
    }),
  };
}"""

# With every folded box open: code wider than its box, display equations, the page's width,
# inline math wider than the column, text squeezed beside the floated download buttons.
MEASURE_JS = r"""() => {
  document.querySelectorAll("details:not([open])").forEach((d) => { d.open = true; });
  const article = document.querySelector("article");
  const math = Array.from(MathJax.startup.document.math);
  return {
    wideBlocks: [...article.querySelectorAll("pre, pre > code")]
      .filter((b) => b.scrollWidth > b.clientWidth).map((b) => b.textContent.split("\n")[0]),
    equations: [...article.querySelectorAll('mjx-container[display="true"]')].map((m) => ({
      tex: math.find((item) => item.typesetRoot === m)?.math,
      width: m.querySelector("svg").getBoundingClientRect().width,
      cut: m.scrollWidth > m.clientWidth
        && !["auto", "scroll"].includes(getComputedStyle(m).overflowX),
    })),
    pageWidth: document.documentElement.scrollWidth,
    // Inline math cannot wrap or scroll; in a table it scrolls with the table.
    wideInline: math.filter((m) => !m.display && !m.typesetRoot.closest("table"))
      .filter((m) => m.typesetRoot.getBoundingClientRect().width > article.clientWidth)
      .map((m) => m.math),
    narrowText: [...article.querySelectorAll(".jp-RenderedMarkdown")]
      .filter((m) => m.getBoundingClientRect().width < 0.9 * article.clientWidth)
      .map((m) => m.textContent.trim().slice(0, 60)),
  };
}"""
FIGURES = "article .jp-OutputArea-output img"
FILTERS = "figures => figures.map((figure) => getComputedStyle(figure).filter)"


def open_tab(context, base: str, url: str):
    """Start loading a page, recording what goes wrong: a request outside the site, a request
    that fails, an error on the console."""
    seen, page, local = {"failed": []}, context.new_page(), (base, "data:", "blob:")
    failed = seen["failed"]
    page.on("request", lambda request: request.url.startswith(local) or failed.append(request.url))
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("response", lambda reply: reply.status >= 400 and failed.append(reply.url))
    page.on("console", lambda note: note.type == "error" and failed.append(note.text))
    page.on("pageerror", lambda error: failed.append(str(error)))
    page.goto(base + url, wait_until="commit")
    return page, seen


def inspect(page, seen: dict) -> dict:
    page.wait_for_load_state("load")
    seen.update(page.evaluate(READ_JS))
    if "late" in seen:
        pytest.fail(f"{page.url}: {seen['late']}; failed: {seen['failed']}")
    seen["light"] = page.eval_on_selector_all(FIGURES, FILTERS)
    for width, height in ((1280, 900), (390, 844)):  # a window, then a phone
        page.set_viewport_size({"width": width, "height": height})
        seen[width] = page.evaluate(MEASURE_JS)
    # The dark palette as its toggle sets it, not kept for the next page.
    page.evaluate("() => document.body.setAttribute('data-md-color-scheme', 'slate')")
    seen["dark"] = page.eval_on_selector_all(FIGURES, FILTERS)
    page.close()
    return seen


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def visits(site) -> dict[str, dict]:
    """Every page of the nav served on 127.0.0.1 and loaded once, each while the one before it
    is measured, in one browser context (its cache keeps the scripts from page to page)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_unless_required("playwright is not installed: pip install -r requirements-test.txt")
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).is_file():
        skip_unless_required(f"no Chromium at {chromium} (apt-get install chromium)")
    handler = functools.partial(_QuietHandler, directory=str(site["path"]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        context = browser.new_context(color_scheme="light", viewport={"width": 1280, "height": 900})
        # Anything addressed outside the local server is refused (and recorded), never fetched.
        context.route(re.compile(rf"^(?!{re.escape(base)})https?://"), lambda r: r.abort())
        try:
            tabs, visits = [open_tab(context, base, PAGES[0].url)], {}
            for i, page in enumerate(PAGES):
                if i + 1 < len(PAGES):
                    tabs.append(open_tab(context, base, PAGES[i + 1].url))
                visits[page.slug] = inspect(*tabs[i])
            return visits
        finally:
            browser.close()
            server.shutdown()
            server.server_close()


def not_redrawn_in_the_dark(seen, page):
    # The lesson has figures: the check checks something.
    none = ["no figures"] if page.slug == "scratch_mlp" and not seen["light"] else []
    light = [f for f in seen["light"] if f != "none"]
    return none + light + [f for f in seen["dark"] if "invert" not in f]


def untypeset(seen, page):
    outside_code = re.sub(r"```.*?```|`[^`\n]*`", "", markdown(page), flags=re.DOTALL)
    formulas = r"\$\$.+?\$\$|\$[^$]+?\$|\\\(.+?\\\)|\\\[.+?\\\]"
    count = len(re.findall(formulas, outside_code, flags=re.DOTALL))
    wrong = [] if seen["typeset"] == count else [f"{seen['typeset']} typeset of {count}"]
    left = re.findall(r"\$\$|\\\(|\\\[|\$[^$\s][^$]*\$", seen["prose"])  # left as text
    return wrong + left + seen["unparsed"] + ["arithmatex"] * seen["arithmatex"]


def unreadable_on_a_phone(seen, page):
    # A display equation wider than the column keeps its size and scrolls in its own box; inline
    # math wider than a phone should be $$display$$.
    pairs = zip(seen[1280]["equations"], seen[390]["equations"], strict=True)
    shrunk = [p["tex"] for w, p in pairs if abs(p["width"] - w["width"]) > 1 or p["cut"]]
    wide = ["page scrolls sideways"] if seen[390]["pageWidth"] > 390 else []
    return shrunk + seen[390]["wideInline"] + wide


def missing_from_the_contents(seen, page):
    # Each ## heading up to its first math, as the table of contents shows it.
    titles = re.findall(r"^## ([^$\n]*)", markdown(page), flags=re.M)
    titles = [title.replace("`", "").strip() for title in titles]
    missing = [t for t in titles if not any(entry.startswith(t) for entry, _ in seen["toc"])]
    return missing + [entry for entry, lands in seen["toc"] if not lands]


# What each check finds wrong in what the browser saw of a page.
BROWSER_CHECKS = {
    "nothing_requested_outside_the_site_and_nothing_fails": lambda seen, page: seen["failed"],
    "every_image_loads_with_alt_text_of_its_own": lambda seen, page: seen["images"],
    "figures_are_redrawn_for_the_dark_palette": not_redrawn_in_the_dark,
    "every_formula_is_typeset": untypeset,
    "no_formula_shows_a_backslash": lambda seen, page: seen["backslashes"],
    "copy_buttons_copy_the_code_not_typeset_math": lambda seen, page: seen["copyDiffers"],
    "code_fits_a_1280_pixel_window": lambda seen, page: seen[1280]["wideBlocks"],
    "text_fills_the_column": lambda seen, page: seen[1280]["narrowText"] + seen[390]["narrowText"],
    "formulas_stay_readable_on_a_phone": unreadable_on_a_phone,
    "the_contents_list_the_sections_and_each_entry_lands_in_view": missing_from_the_contents,
}


@pytest.mark.parametrize("check", BROWSER_CHECKS)
def test_in_the_browser(visits, check):
    found = {page.slug: BROWSER_CHECKS[check](visits[page.slug], page) for page in PAGES}
    assert {slug: wrong for slug, wrong in found.items() if wrong} == {}


def test_the_lesson_reads_in_one_sitting(visits):
    # A first lesson: at most 25,000 characters in view with its folds closed. Depth belongs on
    # the pages after it.
    assert visits["scratch_mlp"]["visibleCharacters"] <= 25_000
