"""A Sphinx extension that makes the built book self-contained: no request leaves the site.

By default the pages would load require.js, the ipywidgets HTML manager and MathJax from CDNs.
This extension fetches pinned npm packages of them once (checked against the registry's
sha512), keeps the few files a page needs in a local cache, and adds that folder to
``html_static_path``, so Sphinx copies them to ``_build/html/_static/vendor/``. ``_config.yml``
points ``nb_ipywidgets_js`` and ``mathjax_path`` there. Enable it with
``sphinx: extra_extensions: [cae_lib.site_assets]``.

The cache is ``$CAE_ASSETS_CACHE``, else ``~/.cache/cae-book/site-assets``; fill it ahead of an
offline build with ``python -m cae_lib.site_assets``.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
CACHE_ENV = "CAE_ASSETS_CACHE"
VENDOR = "vendor"  # files land in _static/vendor/<package folder>/


@dataclass(frozen=True)
class NpmPackage:
    """A pinned npm package and which of its files the site serves (globs inside ``package/``)."""

    name: str
    version: str
    integrity: str  # npm's "dist.integrity": sha512 of the tarball, base64
    folder: str  # where under _static/vendor/ its files go
    root: str  # the package's folder whose contents are copied
    files: tuple[str, ...]

    @property
    def tarball(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name.split('/')[-1]}-{self.version}.tgz"


PACKAGES = (
    # The widget manager for pages without a kernel (ipywidgets 8 = @jupyter-widgets/controls 5),
    # with the Font Awesome fonts its CSS refers to, loaded from beside the script.
    NpmPackage(
        "@jupyter-widgets/html-manager", "1.0.15",
        "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        "html-manager", "dist", ("embed-amd.js", "*.woff", "*.woff2", "*.ttf", "*.eot", "*.svg", "*.LICENSE.txt"),
    ),
    NpmPackage(
        "requirejs", "2.3.8",
        "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
        "requirejs", "", ("require.js", "README.md"),
    ),
    # MathJax 3 (what Sphinx 7 expects): the combined TeX+MathML/CHTML build, its fonts, the TeX
    # extensions it may autoload, and the menu's optional parts; not the 4 MB speech engine.
    NpmPackage(
        "mathjax", "3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        "mathjax", "es5",
        ("tex-mml-chtml.js", "output/chtml/fonts/woff-v2/*", "input/tex/extensions/*", "ui/*", "a11y/*"),
    ),
)


# Loaded between require.js and embed-amd.js, on pages with widgets. Two fixes for the widget manager:
# - its two AMD modules find their fonts relative to where require.js thinks they live, by default
#   under the page's own folder: point both at vendor/html-manager/;
# - it typesets every label through MathJax 2's API (MathJax.Hub.Queue) whenever window.MathJax
#   exists, and the book loads MathJax 3: give it that one call, before and after MathJax starts.
WIDGETS_SETUP_JS = """\
(function () {
  var here = new URL(".", document.currentScript.src).href;  // .../_static/vendor/
  window.__jupyter_widgets_assets_path__ = here + "html-manager/";
  require.config({paths: {
    "@jupyter-widgets/html-manager/dist": here + "html-manager",
    "@jupyter-widgets/html-manager": here + "html-manager/index",
  }});

  var hub = {Queue: function (job) {  // job = ["Typeset", MathJax.Hub, element]
    var mathjax = window.MathJax;
    if (mathjax && mathjax.typesetPromise) mathjax.typesetPromise([job[2]]).catch(function () {});
  }};
  var config = window.MathJax || {};  // Sphinx's MathJax 3 config, if it wrote one
  var startup = config.startup || {};
  var ready = startup.ready;
  startup.ready = function () {
    if (ready) ready(); else window.MathJax.startup.defaultReady();
    window.MathJax.Hub = hub;
  };
  config.startup = startup;
  config.Hub = hub;
  window.MathJax = config;
})();
"""
WIDGETS_SETUP_FILE = "widgets-setup.js"


def cache_dir() -> Path:
    """Where fetched assets are kept: ``$CAE_ASSETS_CACHE``, else ``~/.cache/cae-book/site-assets``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "cae-book" / "site-assets").expanduser()


def ensure_assets(cache: Path | None = None) -> Path:
    """The static folder holding ``vendor/<package>/...``, fetching any package not cached yet."""
    cache = cache or cache_dir()
    for package in PACKAGES:
        target = cache / VENDOR / package.folder
        stamp = target / f".{package.version}"
        if not stamp.is_file():
            _install(package, _download(package), target)
            stamp.touch()
    setup_js = cache / VENDOR / WIDGETS_SETUP_FILE
    if not setup_js.is_file() or setup_js.read_text() != WIDGETS_SETUP_JS:
        setup_js.write_text(WIDGETS_SETUP_JS)
    return cache


def _download(package: NpmPackage) -> bytes:
    try:
        with urllib.request.urlopen(package.tarball, timeout=120) as response:
            data = response.read()
    except OSError as error:
        raise RuntimeError(
            f"could not fetch {package.tarball} ({error}); the book serves {package.name} from its own "
            f"pages. Connect to the npm registry once, or copy a filled {cache_dir()} from another "
            f"machine (set ${CACHE_ENV} to use another folder)"
        ) from error
    algorithm, expected = package.integrity.split("-", 1)
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise RuntimeError(f"{package.tarball} does not match its pinned {algorithm}: refusing to serve it")
    return data


def _install(package: NpmPackage, tarball: bytes, target: Path) -> None:
    """Unpack the wanted files under a temporary name, then rename into place (atomic for readers)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{package.folder}-", dir=target.parent))
    prefix = "/".join(p for p in ("package", package.root) if p) + "/"
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        for member in tar.getmembers():
            inner = member.name[len(prefix):] if member.name.startswith(prefix) else None
            if member.isfile() and inner and any(fnmatch.fnmatch(inner, g) for g in package.files):
                out = tmp / inner
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(tar.extractfile(member).read())
    if not any(tmp.iterdir()):
        raise RuntimeError(f"{package.name} {package.version} has none of {package.files} under {prefix}")
    shutil.rmtree(target, ignore_errors=True)
    try:
        tmp.rename(target)
    except OSError:  # another build installed it first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)


def _add_static_path(app) -> None:
    app.config.html_static_path.append(str(ensure_assets()))


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    """Each script once per page: under Sphinx 7.4 sphinx-thebe's and sphinx-togglebutton's inline
    scripts end up on a page twice (once with filename None, once with ""), and a second ``const
    THEBE_JS_URL`` is a console error on every page."""
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # The copies differ in filename (None or "" for an inline script), so compare what the page shows.
        key = (str(getattr(script, "filename", script) or ""), repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app) -> dict:
    """Sphinx entry point: fetch (if needed) and serve the vendored assets from ``_static/``."""
    app.connect("builder-inited", _add_static_path)
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    print(ensure_assets())
