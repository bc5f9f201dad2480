"""The built website in a real browser (Chromium via Playwright), served on 127.0.0.1, network off.

Run by ``make site-check`` after a site build (``make test`` does it on the smoke site):
``RECRL_SITE_DIR`` names the HTML folder, ``RECRL_SITE_ARTEFACTS`` where screenshots go. Each
check is also run once on a copy of a page with its fault planted, and must catch it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import site_check  # noqa: E402  (scripts/ is not a package)

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("RECRL_SITE_DIR", ROOT / "_build" / "smoke" / "_build" / "html"))
ARTEFACTS = Path(os.environ.get("RECRL_SITE_ARTEFACTS", ROOT / "_build" / "site-check" / "smoke"))

# Screenshot pages: the home page and each chapter's first notebook; then an exercise and a figure.
CHAPTER_PAGES = ["book/intro.html"] + [f"book/{ch}/{nb}.html" for ch, nb in [
    ("ch01_data", "01_interaction_logs"), ("ch02_evaluation", "01_metrics"), ("ch03_seqrec", "01_next_item_task"),
    ("ch04_sqn", "01_recommendation_as_mdp"), ("ch05_llm_policies", "01_lm_as_policy"),
    ("ch06_simulated_users", "01_interest_evolution"), ("ch07_shielded_explanations", "01_two_towers"),
    ("ch08_lea", "01_llm_environment"), ("ch09_ialp", "01_llm_teacher"), ("ch10_laac", "01_llm_suggestions")]]
EXERCISE_PAGE = "book/ch04_sqn/02_sqn_sac.html"
FIGURE_PAGE = "book/ch03_seqrec/03_sasrec.html"
SHOTS = [(p, None) for p in CHAPTER_PAGES] + [(EXERCISE_PAGE, "main div.exercise"), (FIGURE_PAGE, "main figure")]
AXE_PAGES = ["book/intro.html", "book/ch04_sqn/02_sqn_sac.html", "book/appendix/base.html", "search.html"]


@pytest.fixture(scope="module")
def site():
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no built site in {SITE}: run `make site` (smoke) or `make book`, then `make site-check`")
    if site_check.chromium() is None:
        pytest.skip("no Chromium on this machine and none could be installed (`make browser` needs Debian's "
                    "apt-get with root or sudo); set RECRL_CHROMIUM to a Chromium binary to run these checks")
    with site_check.serve(SITE) as base, site_check.browser() as b:
        yield base, b


@pytest.fixture(scope="module")
def offline(site):
    base, b = site
    off = site_check.offline_context(b, base)
    yield off
    off.context.close()


@pytest.fixture(scope="module")
def reports(site, offline):
    """One visit per TOC page, shared by the tests below."""
    base, _ = site
    return {path: site_check.inspect(offline, base, path) for path in site_check.toc_pages()}


def test_every_toc_page_was_built(reports):
    missing = [p for p in site_check.toc_pages() if not (SITE / p).is_file()]
    assert not missing, f"pages in _toc.yml that the build did not write: {missing}"
    assert len(reports) >= 40


@pytest.mark.parametrize("page", site_check.toc_pages())
def test_page_reads_cleanly_offline(reports, page):
    """Status 200, no console error, nothing fetched from outside, no raw markup or TeX, figures loaded."""
    assert reports[page].problems() == [], f"{page}:\n  " + "\n  ".join(reports[page].problems())


def test_maths_is_typeset_from_the_site_itself(reports):
    assert sum(r.math for r in reports.values()) > 500          # the appendix alone has hundreds
    assert not [p for p, r in reports.items() if r.unrendered_math]
    cdn = [p for p in reports if "cdn.jsdelivr.net/npm/mathjax" in (SITE / p).read_text()]
    assert not cdn, f"pages still loading MathJax from a CDN: {cdn}"
    assert (SITE / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()


def test_figures_loaded_and_solutions_open(reports):
    assert sum(r.images for r in reports.values()) > 50
    assert sum(r.solutions for r in reports.values()) >= 20     # every chapter has exercises with solutions
    assert {p: r.closed_solutions for p, r in reports.items() if r.closed_solutions} == {}


def test_internal_links_and_anchors_resolve():
    dead = site_check.dead_links(SITE, site_check.toc_pages() + ["genindex.html", "search.html", "index.html"])
    assert dead == {}, dead


def test_notebook_pages_launch_the_real_notebook_in_colab(reports):
    notebooks = [p for p in reports if (ROOT / p.replace(".html", ".ipynb")).is_file()]
    assert len(notebooks) >= 30
    for page in notebooks:
        rep = reports[page]
        assert rep.colab, f"{page}: no Colab launch button"
        assert rep.download, f"{page}: no download button for the .ipynb"
        for url in rep.colab:
            target = site_check.colab_target(url)
            assert target == page.replace(".html", ".ipynb"), f"{page}: Colab opens {target}"
            assert (ROOT / target).is_file(), f"{page}: Colab opens {target}, which is not in the repository"


def test_search_finds_chapter_4_for_double_q(site, offline):
    base, _ = site
    hits = site_check.search(offline, base, "double-Q")
    assert any("ch04_sqn/" in h for h in hits), hits


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_screenshots_and_phone_layout(site, width):
    """Screenshots (build artefacts, not committed); at phone width nothing scrolls the page sideways."""
    base, b = site
    viewport = site_check.DESKTOP if width == "desktop" else site_check.PHONE
    off = site_check.offline_context(b, base, viewport)
    out = ARTEFACTS / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    wide, scales = {}, {}
    try:
        for path, element in SHOTS:
            name = path.replace("/", "_").replace(".html", "") + ("" if element is None else "-" + element.split()[-1].split(".")[-1])
            shot = site_check.screenshot(off, base, path, out / f"{width}-{name}.png", element=element)
            if width == "phone" and shot["overflow"]:
                wide[path] = shot["overflow"]
            scales.update({f"{path} {f['src']}": round(f["scale"], 3) for f in shot["scales"]})
    finally:
        off.context.close()
    (ARTEFACTS / f"{width}-figure-scales.json").write_text(json.dumps(scales, indent=1))   # reported, not gated
    assert len(list(out.glob(f"{width}-*.png"))) >= len(SHOTS)
    assert wide == {}, f"wider than a {viewport['width']} px phone: {wide}"


@pytest.mark.parametrize("page", AXE_PAGES)
def test_no_critical_accessibility_violation(site, offline, page):
    base, _ = site
    critical = site_check.axe_critical(offline, base, page)
    assert critical == [], f"{page}: {critical}"


# --- each check catches its fault ---------------------------------------------------------------

PLANTED = "book/ch04_sqn/02_sqn_sac.html"


@pytest.fixture(scope="module")
def planted_site(tmp_path_factory):
    """A copy of the site in which one page carries one instance of every fault the checks look for."""
    root = tmp_path_factory.mktemp("planted") / "html"
    shutil.copytree(SITE, root, ignore=shutil.ignore_patterns("_sources", "*.ipynb", "*.zip"))
    page = root / PLANTED
    html = page.read_text()
    img = re.search(r'<img alt="([^"]*)" src="(\.\./\.\./_images/[^"]+)"', html)
    html = html.replace(img.group(0), f'<img alt="{img.group(1)}" src="../../_images/no-such-figure.svg"', 1)  # broken image
    html = re.sub(r"(<main[^>]*>)", r'\1<p>Raw markup: {glue:text}`ch4_sqn_ndcg` and ?? here.</p>'
                  r'<p>Raw maths: \\[ x^2 \\]</p>'                                            # raw TeX outside .math
                  r'<a href="no_such_page.html">dead</a><a href="#no-such-anchor">dead anchor</a>'
                  r'<img src="../../_images/' + img.group(2).rsplit("/", 1)[1] + '">'       # figure without alt
                  r'<script>const THEBE_JS_URL = 1;</script><script>const THEBE_JS_URL = 2;</script>'  # console error
                  r'<div style="width: 1600px">a block wider than a phone</div>',
                  html, count=1)
    html = re.sub(r'src="[./]*_static/mathjax/tex-mml-chtml\.js[^"]*"',                          # MathJax from a CDN
                  'src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"', html)
    html = re.sub(r'(<div class="solution[^"]*"[^>]*>)', r'\1<style>.solution > section, .solution > p '
                  r'{display: none !important}</style>', html, count=1)                    # a solution that never opens
    html = re.sub(r"(https://colab\.research\.google\.com/github/[^\"]+/blob/[^/]+/)book/ch04_sqn/02_sqn_sac\.ipynb",
                  r"\1book/ch04_sqn/renamed.ipynb", html)                                    # Colab at a wrong path
    page.write_text(html)
    return root


def test_each_check_catches_its_planted_fault(planted_site, site):
    _, b = site
    with site_check.serve(planted_site) as base:
        off = site_check.offline_context(b, base)
        phone = site_check.offline_context(b, base, site_check.PHONE)
        try:
            rep = site_check.inspect(off, base, PLANTED)
            missing = site_check.inspect(off, base, "book/no_such_page.html", solutions=False)
            axe = site_check.axe_critical(off, base, PLANTED)
            shot = site_check.screenshot(phone, base, PLANTED, planted_site / "phone.png")
            nothing = site_check.search(off, base, "zqxjv")
        finally:
            off.context.close()
            phone.context.close()
    assert "HTTP status 404" in missing.problems()
    assert any(v.startswith("image-alt") for v in axe), axe                        # axe: an <img> without alt
    assert any(o.startswith("page body") for o in shot["overflow"]), shot["overflow"]
    assert nothing == []                                                            # a term not in the book
    found = "\n".join(rep.problems())
    assert "image not loaded: ../../_images/no-such-figure.svg" in found, found
    assert "raw markup: raw MyST role" in found and "raw markup: unresolved reference (??)" in found, found
    assert "raw TeX in the text" in found, found
    assert "request outside the site (blocked): https://cdn.jsdelivr.net/npm/mathjax" in found, found
    assert re.search(r"\d+ of \d+ formulas not typeset", found), found              # no MathJax offline
    assert "THEBE_JS_URL" in found, found                                             # the console error
    assert "solution does not open" in found, found
    assert "figure without alt text or caption" in found, found
    assert site_check.colab_target(rep.colab[0]) == "book/ch04_sqn/renamed.ipynb"
    assert not (ROOT / site_check.colab_target(rep.colab[0])).exists()                        # the launch check fails
    dead = site_check.dead_links(planted_site, [PLANTED])[PLANTED]
    assert any(d.startswith("no_such_page.html") for d in dead) and any("#no-such-anchor" in d for d in dead), dead
    # and the untouched site passes the same checks (see test_page_reads_cleanly_offline)
