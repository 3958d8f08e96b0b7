"""
Configuration file for the Sphinx documentation builder.

Build with ``make docs`` (warnings are errors). The build never touches the network unless
intersphinx is switched on: on Read the Docs, or with ``SUNPY_SLIC_DOCS_INTERSPHINX=1``.
"""

import datetime
import inspect
import os
import subprocess
import sys
import warnings
from pathlib import Path

# The gallery executes the examples: no GUI.
os.environ.setdefault("MPLBACKEND", "agg")

from astropy.utils.exceptions import AstropyDeprecationWarning
from matplotlib import MatplotlibDeprecationWarning
from packaging.version import Version
from sphinx.errors import PycodeError
from sphinx.pycode import ModuleAnalyzer
from sunpy.util.exceptions import SunpyDeprecationWarning, SunpyPendingDeprecationWarning
from sunpy_sphinx_theme import PNG_ICON

from sunpy_slic import __version__

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

# -- Read the Docs specific configuration --------------------------------------
on_rtd = os.environ.get("READTHEDOCS", None) == "True"
if on_rtd:
    os.environ["SUNPY_CONFIGDIR"] = "/home/docs/"
    os.environ["HOME"] = "/home/docs/"
    os.environ["LANG"] = "C"
    os.environ["LC_ALL"] = "C"

# -- Project information ---------------------------------------------------------
project = "sunpy-slic"
author = "The sunpy-slic developers"
copyright = f"{datetime.datetime.now(datetime.UTC).year}, {author}"

_version = Version(__version__)
# Avoid long git hashes and "post" in the rendered version string.
version = release = (
    f"{_version.base_version}.dev{_version.dev}" if _version.is_devrelease else _version.base_version
)
is_development = _version.is_devrelease
is_release = not (_version.is_prerelease or _version.is_devrelease)

# Deprecations seen while building (autodoc imports, the gallery) must fail the build.
warnings.filterwarnings("error", category=SunpyDeprecationWarning)
warnings.filterwarnings("error", category=SunpyPendingDeprecationWarning)
warnings.filterwarnings("error", category=MatplotlibDeprecationWarning)
warnings.filterwarnings("error", category=AstropyDeprecationWarning)

# -- General configuration ---------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx_automodapi.automodapi",
    "sphinx_automodapi.smart_resolver",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path = []

# Treat everything in single backticks as a Python reference.
default_role = "obj"
# Broken references render as plain text; they are not errors (intersphinx is off by default).
nitpicky = False

# automodapi: one page per object under docs/api/ (generated at build time, git-ignored).
automodapi_toctreedirnm = "api"
automodapi_inheritance_diagram = False
automodsumm_inherited_members = False
numpydoc_show_class_members = False

napoleon_google_docstring = False
napoleon_use_rtype = False
# "Attributes" sections as :ivar: fields: automodapi already lists the attributes of a class, and
# attribute directives from napoleon would describe the same objects twice.
napoleon_use_ivar = True
autodoc_typehints = "none"

rst_epilog = """
.. _SunPy: https://sunpy.org
.. _Slic: https://github.com/bionictoucan/Slic
"""

# -- Intersphinx ---------------------------------------------------------------------
# Fetching inventories needs the network, which CI and most build machines here do not have;
# a failed fetch is a warning, and warnings fail the build. So the links to other projects' docs
# are made only on Read the Docs or when asked for.
intersphinx_mapping = {}
if on_rtd or os.environ.get("SUNPY_SLIC_DOCS_INTERSPHINX", "") not in ("", "0"):
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3/", None),
        "numpy": ("https://numpy.org/doc/stable/", None),
        "astropy": ("https://docs.astropy.org/en/stable/", None),
        "sunpy": ("https://docs.sunpy.org/en/stable/", None),
        "torch": ("https://docs.pytorch.org/docs/stable/", None),
        "matplotlib": ("https://matplotlib.org/stable/", None),
    }

# -- Options for HTML output ---------------------------------------------------------
html_theme = "sunpy"
html_title = f"sunpy-slic {version}"
html_static_path = []
html_theme_options = {
    "footer_links": [
        ["Code", "https://github.com/sunpy/sunpy-slic", 3],
        ["Forum", "https://community.openastronomy.org/c/sunpy", 3],
        ["Chat", "https://openastronomy.element.io/#/room/#sunpy:openastronomy.org", 3],
    ],
}

# -- Sphinx-gallery --------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": str(DOCS / "generated" / "gallery"),
    "backreferences_dir": str(DOCS / "generated" / "modules"),
    "doc_module": ("sunpy_slic",),
    # Run every example except those whose name contains "sgskip".
    "filename_pattern": "^((?!sgskip).)*$",
    "default_thumb_file": str(PNG_ICON),
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "plot_gallery": "True",
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
}


# -- Changelog: the released notes plus a draft of the unreleased fragments -------------
def _write_unreleased_changelog():
    """
    Render changelog/*.rst with ``towncrier build --draft`` into generated/unreleased.inc.

    The page ``whatsnew/changelog`` includes it above ``CHANGELOG.rst``.
    """
    out = DOCS / "generated" / "unreleased.inc"
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "towncrier", "build", "--draft", "--version", version, "--dir", str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        msg = f"towncrier could not render the changelog fragments:\n{proc.stdout}\n{proc.stderr}"
        raise RuntimeError(msg)
    lines = proc.stdout.strip("\n").splitlines()
    # Replace towncrier's "<version> (<date>)" title by one that says what this is.
    if len(lines) >= 2 and set(lines[1]) == {"="}:
        lines = lines[2:]
    text = "Unreleased\n==========\n\n" + "\n".join(lines).strip("\n") + "\n"
    if not out.exists() or out.read_text() != text:
        out.write_text(text)


_write_unreleased_changelog()


# -- Docstrings of re-exported constants ---------------------------------------------------
def _reexported_data_docstring(app, what, name, obj, options, lines):
    """
    Give re-exported constants (``sunpy_slic.FEATURES``) the ``#:`` comment of their definition.

    A constant imported into ``sunpy_slic/__init__.py`` has no ``#:`` comment there, and autodoc
    would show the docstring of its type ("Built-in immutable sequence ...") instead.
    """
    if what not in ("data", "attribute") or not lines:
        return
    typedoc = type(obj).__doc__
    if not isinstance(typedoc, str) or " ".join(lines).split() != inspect.cleandoc(typedoc).split():
        return

    modname, _, attr = name.rpartition(".")
    lines[:] = []
    for other in sorted(m for m in sys.modules if m.startswith("sunpy_slic.") and m != modname):
        if getattr(sys.modules[other], attr, None) is not obj:
            continue
        try:
            docs = ModuleAnalyzer.for_module(other).find_attr_docs()
        except PycodeError:
            continue
        if ("", attr) in docs:
            lines.extend([*docs[("", attr)], f"The same object as `{other}.{attr}`.", ""])
            return


def setup(app):
    app.connect("autodoc-process-docstring", _reexported_data_docstring)
