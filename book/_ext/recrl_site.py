"""Sphinx extension of the book's website: fixes that make every page load cleanly, online or off.

- **MathJax from the build.** ``_config.yml`` points ``mathjax_path`` at the copy that
  ``scripts/site_assets.py`` installs (``make setup`` runs it); a build without it would publish
  pages whose maths never renders, so it stops here and names the remedy.
- **Inline scripts once.** Sphinx 7.4 emits every inline ``<script>`` registered by an extension
  after the builder started twice: ``app.add_js_file(None, body=...)`` stores the asset with
  filename ``None``, ``StandaloneHTMLBuilder.prepare_writing()`` re-adds the registry's copy
  with filename ``''``, and ``None != ''`` lets the duplicate through. sphinx-thebe's
  ``const THEBE_JS_URL = ...`` then throws "Identifier 'THEBE_JS_URL' has already been declared"
  on every page. Fixed upstream in Sphinx 8.2 (sphinx-doc/sphinx#13402), which Jupyter Book 1
  (``sphinx<8``) cannot use; until then this drops the second copy of each page's scripts.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.errors import ConfigError


def check_mathjax(app) -> None:
    """Stop the build when the configured local MathJax is missing (it is not committed)."""
    path = app.config.mathjax_path
    if "://" in path or path.startswith("//"):
        return                                       # a CDN: nothing to check here
    for static in app.config.html_static_path:
        if (Path(app.confdir) / static / path).is_file():
            return
    raise ConfigError(
        f"mathjax_path {path!r} is not in any html_static_path {app.config.html_static_path}: "
        "the website serves its own MathJax, installed by `make setup` "
        "(or `python scripts/site_assets.py`, once with network).")


def dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """Keep the first of each identical ``<script>`` on the page (see the module docstring)."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, keep = set(), []
    for js in scripts:
        key = (js.filename or "", js.priority, tuple(sorted(js.attributes.items())))
        if key not in seen:
            seen.add(key)
            keep.append(js)
    scripts[:] = keep


def setup(app):
    app.connect("builder-inited", check_mathjax)
    app.connect("html-page-context", dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
