"""MkDocs hook: execute the notebook pages side by side, one process each, as the build starts.

mkdocs-jupyter executes each page when MkDocs renders it, one after the other, and the pages'
kernels spend most of the build's time; on two cores, two of them can run at once. This hook
starts each page's conversion, the very ``mkdocs_jupyter.convert.nb2html`` call the plugin
will make, in a process of its own, and hands the plugin the result when it asks.

Each conversion runs in a separate process rather than a thread: nb2html numbers the copy
buttons of a page with a module-level counter, which two pages converted at once in one process
would share. The build still fails on a failing cell, with that cell's error. Nothing is
executed ahead when the plugin's cache is on (DOCS_NOTEBOOK_CACHE=true), when it does not
execute the pages, or on a single core. A result the plugin never asks for (its call changed)
is a warning, which fails a strict build.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import mkdocs_jupyter.convert
from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.parallel_pages")

_CONVERT = """
import json, sys
from mkdocs_jupyter import convert
sys.stdout.write(convert.nb2html(sys.argv[1], **json.loads(sys.argv[2])))
"""
# `mkdocs serve` loads this hook again for every rebuild: keep the plugin's own function.
_original_nb2html = getattr(mkdocs_jupyter.convert.nb2html, "original", None)
_original_nb2html = _original_nb2html or mkdocs_jupyter.convert.nb2html
_pending: dict[str, Future] = {}
_pool: ThreadPoolExecutor | None = None
_running: set[subprocess.Popen] = set()
_lock = threading.Lock()  # guards _running and _stopping
_stopping = False


def nb2html_arguments(plugin_config: dict, path: str) -> dict:
    """The keyword arguments mkdocs-jupyter 0.26's ``on_pre_page`` passes to ``nb2html``."""
    execute = plugin_config["execute"] and not any(
        pathlib.PurePath(path).match(pattern) for pattern in plugin_config["execute_ignore"]
    )
    names = (
        "kernel_name theme allow_errors show_input no_input no_prompt remove_tag_config "
        "highlight_extra_classes include_requirejs custom_mathjax_url"
    ).split()
    return {"execute": execute, **{name: plugin_config[name] for name in names}}


def _key(path: str, arguments: dict) -> str:
    return json.dumps([path, arguments], sort_keys=True)


def _convert(path: str, arguments: dict) -> str:
    started = time.monotonic()
    with _lock:
        if _stopping:
            raise PluginError(f"The build stopped before {path} was executed")
        process = subprocess.Popen(
            [sys.executable, "-c", _CONVERT, path, json.dumps(arguments)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            encoding="utf-8",
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
            # Its own process group, so that stopping it stops its kernel too.
            start_new_session=True,
        )
        _running.add(process)
    try:
        html, errors = process.communicate()
    finally:
        with _lock:
            _running.discard(process)
    if process.returncode != 0:
        # From nbclient's message on: the failing cell's code, then its error.
        lines = errors.splitlines()
        start = next((i for i, line in enumerate(lines) if "CellExecutionError:" in line), -60)
        raise PluginError(f"Executing {path} failed:\n" + "\n".join(lines[start:]))
    log.info(f"Executed {path} in {time.monotonic() - started:.1f} s")
    return html


def _nb2html(nb_path, **arguments):
    future = _pending.pop(_key(str(nb_path), arguments), None)
    if future is None:
        return _original_nb2html(nb_path, **arguments)
    return future.result()


_nb2html.original = _original_nb2html


# After every on_files (mkdocs-jupyter's marks the pages it renders) and after MkDocs has set
# aside the excluded files, before the first page is rendered.
def on_nav(nav, config, files):
    global _pool
    mkdocs_jupyter.convert.nb2html = _nb2html
    jupyter = config.plugins["mkdocs-jupyter"]
    workers = os.cpu_count() or 1
    if jupyter.config["cache"] or not jupyter.config["execute"] or workers < 2:
        return nav
    pages = [f.abs_src_path for f in files.documentation_pages() if jupyter.should_include(f)]
    _pool = ThreadPoolExecutor(max_workers=min(workers, len(pages) or 1))
    for path in pages:
        arguments = nb2html_arguments(jupyter.config, path)
        if arguments["execute"]:
            _pending[_key(path, arguments)] = _pool.submit(_convert, path, arguments)
    return nav


def _shut_down() -> list[str]:
    """Stop what is still running or waiting; the paths of the results nobody asked for."""
    global _pool, _stopping
    unused = [json.loads(key)[0] for key in _pending]
    for future in _pending.values():
        future.cancel()
    _pending.clear()
    with _lock:
        _stopping = True
        for process in _running:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None
    _stopping = False
    return unused


def on_post_build(config):
    for path in _shut_down():
        log.warning(f"{path} was executed ahead, and mkdocs-jupyter did not ask for the result")


def on_build_error(error):
    _shut_down()
