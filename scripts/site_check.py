"""The built website checked the way readers use it: in a real browser, over HTTP, with the network off.

A local server on 127.0.0.1 serves the HTML folder; Playwright drives the system Chromium
(Debian's ``chromium``; Playwright's own browser download is not needed). Every request that
leaves the server is blocked and recorded, so a page that needs a CDN fails here. For each page
of the table of contents :func:`inspect` records what a reader would notice: the HTTP status,
console errors, blocked or failed requests, raw MyST/Sphinx markup in the visible text, images
that did not load, maths MathJax left as TeX, exercise solutions that do not open, figures without
alt text or caption, and the Colab launch links. :func:`dead_links` crawls internal links and
anchors without a browser. ``tests/site/`` turns the reports into tests (``make site-check``).

    python scripts/site_check.py _build/smoke/_build/html     # a summary line per page
"""

from __future__ import annotations

import functools
import html.parser
import os
import re
import shutil
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urldefrag, urljoin, urlparse

ROOT = Path(__file__).resolve().parents[1]
DESKTOP, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}

# Markup that must never reach a reader: unexecuted roles and directives, unresolved references.
RESIDUE = {
    "raw MyST role": re.compile(r"\{(glue|glue:text|glue:figure|cite|cite:[pt]|ref|numref|eq|doc|math|term)\}`"),
    "raw directive fence": re.compile(r"^\s*(:::|```\{)", re.M),
    "unresolved reference (??)": re.compile(r"\?\?"),
    "unresolved glue/reference (Unknown)": re.compile(r"\bUnknown (?:key|reference|glue)\b|^Unknown$", re.M),
}
RAW_TEX = re.compile(r"\\\(|\\\[|\$\$|\\begin\{")


def chromium() -> str | None:
    """The system Chromium: ``$RECRL_CHROMIUM``, Debian's binary, or the first browser on PATH."""
    candidates = [os.environ.get("RECRL_CHROMIUM"), "/usr/lib/chromium/chromium"]
    candidates += [shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")]
    return next((c for c in candidates if c and Path(c).is_file() and os.access(c, os.X_OK)), None)


def toc_pages(toc: Path = ROOT / "_toc.yml") -> list[str]:
    """HTML paths of every page in the table of contents, in reading order."""
    import yaml

    pages: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    pages.append(re.sub(r"\.(md|ipynb)$", "", node[key]) + ".html")
            for value in node.values():
                if isinstance(value, (list, dict)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(toc.read_text()))
    return pages


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):          # no request log on stderr
        pass


@contextmanager
def serve(html_dir: Path) -> Iterator[str]:
    """Serve ``html_dir`` on 127.0.0.1 (a free port) for the duration of the block; yields the base URL."""
    if not (Path(html_dir) / "index.html").is_file():
        raise FileNotFoundError(f"{html_dir} has no index.html: build the site first (`make site`, or `make book`)")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(html_dir)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def browser() -> Iterator[object]:
    """A headless system Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    exe = chromium()
    if exe is None:
        raise FileNotFoundError("no Chromium found: run `make browser` (Debian: apt-get install chromium) "
                                "or set RECRL_CHROMIUM to the browser's binary")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


@dataclass
class Offline:
    """A browser context in which nothing but the local server answers; ``blocked`` lists the rest."""
    context: object
    blocked: list[str] = field(default_factory=list)


def offline_context(b, base: str, viewport: dict = DESKTOP) -> Offline:
    ctx = b.new_context(viewport=viewport)
    off = Offline(ctx)

    def route(r):
        if r.request.url.startswith(base) or r.request.url.startswith("data:"):
            r.continue_()
        else:
            off.blocked.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)
    return off


@dataclass
class PageReport:
    page: str
    status: int = 0
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)
    residue: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    images: int = 0
    raw_tex: list[str] = field(default_factory=list)
    math: int = 0                   # formulas on the page
    unrendered_math: int = 0        # of which MathJax left untypeset
    solutions: int = 0
    closed_solutions: list[str] = field(default_factory=list)   # solutions whose dropdown did not open
    unlabelled_figures: list[str] = field(default_factory=list)
    colab: list[str] = field(default_factory=list)
    download: bool = False

    def problems(self) -> list[str]:
        """Everything a reader would notice, one line each (empty: the page is fine)."""
        out = [] if self.status == 200 else [f"HTTP status {self.status}"]
        out += [f"console error: {e}" for e in self.console_errors]
        out += [f"failed request: {u}" for u in self.failed_requests]
        out += [f"request outside the site (blocked): {u}" for u in self.blocked_requests]
        out += [f"raw markup: {r}" for r in self.residue]
        out += [f"image not loaded: {s}" for s in self.broken_images]
        out += [f"raw TeX in the text: {t}" for t in self.raw_tex]
        out += [f"{self.unrendered_math} of {self.math} formulas not typeset"] if self.unrendered_math else []
        out += [f"solution does not open: {s}" for s in self.closed_solutions]
        out += [f"figure without alt text or caption: {s}" for s in self.unlabelled_figures]
        return out


# Runs in the page: the article's visible text without code, maths or scripts.
_TEXT_JS = """() => {
  const main = document.querySelector('main') || document.body;
  const copy = main.cloneNode(true);
  copy.querySelectorAll('pre, code, .highlight, mjx-container, script, style, .MathJax, mjx-assistive-mml')
      .forEach(e => e.remove());
  document.body.appendChild(copy); copy.style.position = 'absolute'; copy.style.left = '-99999px';
  const text = copy.innerText; copy.remove(); return text;
}"""

_IMAGES_JS = """async () => {
  const imgs = [...document.querySelectorAll('main img')];
  imgs.forEach(i => i.loading = 'eager');
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  const broken = imgs.filter(i => !(i.naturalWidth > 0 && i.naturalHeight > 0)).map(i => i.getAttribute('src'));
  const svgs = [...document.querySelectorAll('main .cell_output svg, main figure svg')];
  const flat = svgs.filter(s => { const b = s.getBBox(); return !(b.width > 0 && b.height > 0); }).map(s => 'svg ' + (s.id || ''));
  const unlabelled = imgs.filter(i => {
      const alt = (i.getAttribute('alt') || '').trim(), src = i.getAttribute('src') || '';
      const named = alt && !src.endsWith(alt) && !/\\.(png|jpe?g|svg|gif)$/i.test(alt);
      const fig = i.closest('figure');
      return !named && !(fig && fig.querySelector('figcaption') && fig.querySelector('figcaption').innerText.trim());
  }).map(i => i.getAttribute('src'));
  return {count: imgs.length + svgs.length, broken: broken.concat(flat), unlabelled};
}"""

_MATH_JS = """async () => {
  const math = document.querySelectorAll('main .math');
  if (math.length && window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  const left = [...math].filter(m => !m.querySelector('mjx-container')).length;
  return {math: math.length, left};
}"""


def _solutions(page) -> tuple[int, list[str]]:
    """Click every solution's dropdown title; returns (count, ids of those whose body stayed hidden)."""
    closed = []
    sols = page.locator("main div.solution")
    for i in range(sols.count()):
        sol = sols.nth(i)
        sid = sol.get_attribute("id") or f"solution {i + 1}"
        body = sol.locator(":scope > :not(.admonition-title)").first
        toggle = sol.locator(":scope > .admonition-title, :scope > button.toggle-button").first
        try:
            toggle.scroll_into_view_if_needed(timeout=5000)
            if not body.is_visible():
                toggle.click(timeout=5000)
            body.wait_for(state="visible", timeout=3000)
        except Exception:                                  # noqa: BLE001 - any failure means it did not open
            closed.append(sid)
    return sols.count(), closed


def inspect(off: Offline, base: str, path: str, *, solutions: bool = True) -> PageReport:
    """Load ``base + path`` in a fresh tab of the offline context and record what a reader would notice."""
    rep = PageReport(path)
    page = off.context.new_page()
    page.on("console", lambda m: m.type == "error" and rep.console_errors.append(m.text))
    page.on("pageerror", lambda e: rep.console_errors.append(f"uncaught: {e}"))
    page.on("response", lambda r: r.status >= 400 and rep.failed_requests.append(f"{r.status} {r.url}"))
    page.on("requestfailed", lambda r: r.url.startswith(base) and rep.failed_requests.append(f"failed {r.url}"))
    start = len(off.blocked)
    try:
        response = page.goto(base + path, wait_until="load", timeout=60000)
        rep.status = response.status if response else 0
        m = page.evaluate(_MATH_JS)
        rep.math, rep.unrendered_math = m["math"], m["left"]
        img = page.evaluate(_IMAGES_JS)
        rep.images, rep.broken_images, rep.unlabelled_figures = img["count"], img["broken"], img["unlabelled"]
        text = page.evaluate(_TEXT_JS)
        rep.residue = [f"{name}: ...{_around(text, hit)}..." for name, rx in RESIDUE.items() for hit in rx.finditer(text)]
        rep.raw_tex = [f"...{_around(text, hit)}..." for hit in RAW_TEX.finditer(text)]
        rep.colab = [a.get_attribute("href") for a in page.locator("a[href*='colab.research.google.com']").all()]
        rep.download = page.locator("a[href$='.ipynb'], button[onclick*='.ipynb']").count() > 0
        if solutions:
            rep.solutions, rep.closed_solutions = _solutions(page)
        page.wait_for_timeout(200)                         # late console errors of the clicks
    finally:
        page.close()
    rep.blocked_requests = off.blocked[start:]
    return rep


def _around(text: str, hit: re.Match, width: int = 40) -> str:
    return text[max(0, hit.start() - width):hit.end() + width].replace("\n", " ")


def colab_target(url: str) -> str:
    """The repository path a Colab launch URL opens (``.../blob/<branch>/<path>``)."""
    return re.sub(r"^https://colab\.research\.google\.com/github/[^/]+/[^/]+/blob/[^/]+/", "", url)


class _Links(html.parser.HTMLParser):
    """Collects ``href``/``src`` values and element ids of one page."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        for key in ("href", "src"):
            if a.get(key) and not (tag == "link" and key == "href" and a.get("rel") == "canonical"):
                self.links.append(a[key])


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(errors="replace"))
    return parser


def dead_links(html_dir: Path, pages: list[str]) -> dict[str, list[str]]:
    """For each page, its internal links whose file or ``#anchor`` does not exist in the build."""
    html_dir = Path(html_dir)
    ids: dict[Path, set[str]] = {}
    found: dict[str, list[str]] = {}
    for page in pages:
        source = html_dir / page
        dead = []
        for link in _parse(source).links:
            if urlparse(link).scheme or link.startswith(("//", "mailto:", "javascript:", "data:")):
                continue
            target, anchor = urldefrag(urljoin(page, link))
            target = urlparse(target).path                       # no ?v=... cache busters
            file = html_dir / unquote(target) if target else source
            if file.is_dir():
                file = file / "index.html"
            if not file.exists():
                dead.append(f"{link} (no file {file.relative_to(html_dir) if file.is_relative_to(html_dir) else file})")
                continue
            if anchor and file.suffix == ".html":
                if file not in ids:
                    ids[file] = _parse(file).ids
                if unquote(anchor) not in ids[file]:
                    dead.append(f"{link} (no #{anchor} in {file.relative_to(html_dir)})")
        if dead:
            found[page] = dead
    return found


def search(off: Offline, base: str, term: str) -> list[str]:
    """The result links the site's search page lists for ``term``."""
    page = off.context.new_page()
    try:
        page.goto(base + "search.html?q=" + term, wait_until="load")
        page.wait_for_function("() => { const s = document.querySelector('#search-results');"
                               " return s && (s.querySelector('li') || /did not match|no results/i.test(s.innerText)); }",
                               timeout=30000)
        return [a.get_attribute("href") for a in page.locator("#search-results li a").all()]
    finally:
        page.close()


_OVERFLOW_JS = """() => {
  const vw = document.documentElement.clientWidth, out = [];
  if (document.documentElement.scrollWidth > vw + 1) out.push(`page body ${document.documentElement.scrollWidth} px`);
  document.querySelectorAll('main img').forEach(i => {
    const r = i.getBoundingClientRect();
    if (r.width > 0 && r.right > vw + 1) out.push(`figure ${i.getAttribute('src')} ends at ${Math.round(r.right)} px`);
  });
  const scales = [...document.querySelectorAll('main img')].filter(i => i.naturalWidth > 0 && i.getBoundingClientRect().width > 0)
      .map(i => ({src: i.getAttribute('src'), scale: i.getBoundingClientRect().width / i.naturalWidth}));
  return {overflow: out, scales};
}"""


def screenshot(off: Offline, base: str, path: str, out: Path, *, element: str | None = None) -> dict:
    """Save a screenshot of the page's first screen (or of ``element``) to ``out``. Returns what overflows
    the viewport sideways (``overflow``: the page body or figures wider than the screen) and each figure's
    displayed width over its natural width (``scales``: below about 0.5 its labels get hard to read)."""
    page = off.context.new_page()
    try:
        page.goto(base + path, wait_until="load")
        page.evaluate(_MATH_JS)
        page.evaluate(_IMAGES_JS)
        layout = page.evaluate(_OVERFLOW_JS)
        if element:
            page.locator(element).first.screenshot(path=str(out))
        else:
            page.screenshot(path=str(out))
        return {"path": out, **layout}
    finally:
        page.close()


def axe_critical(off: Offline, base: str, path: str) -> list[str]:
    """axe-core's *critical* violations on the page (rule id, help text and how many elements)."""
    from axe_playwright_python.sync_playwright import Axe

    page = off.context.new_page()
    try:
        page.goto(base + path, wait_until="load")
        page.evaluate(_MATH_JS)
        result = Axe().run(page)
        return [f"{v['id']}: {v['help']} ({len(v['nodes'])} elements)"
                for v in result.response["violations"] if v.get("impact") == "critical"]
    finally:
        page.close()


def main(argv: list[str] | None = None) -> int:
    html_dir = Path((argv or sys.argv[1:] or ["_build/smoke/_build/html"])[0])
    pages = toc_pages()
    bad = 0
    with serve(html_dir) as base, browser() as b:
        off = offline_context(b, base)
        for path in pages:
            rep = inspect(off, base, path)
            issues = rep.problems()
            bad += bool(issues)
            print(f"{'FAIL' if issues else 'ok  '} {path}: {rep.images} images, {rep.math} formulas, "
                  f"{rep.solutions} solutions" + "".join(f"\n     {p}" for p in issues))
    for page, dead in dead_links(html_dir, pages).items():
        bad += 1
        print(f"FAIL {page}: dead links {dead}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
