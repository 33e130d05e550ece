"""Sphinx configuration of the metareview documentation (``make docs``).

The scientific Python stack: numpydoc reads the docstrings, autosummary makes one page per
public name, sphinx-gallery runs ``examples/gallery/*.py`` and renders their figures, and the
pydata theme lays it out. The validation page is generated at build time from the committed
reference fixtures (``docs/_validation.py``). Built with ``-W``: a warning fails the build.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))

from _validation import write_validation_page  # noqa: E402

import metareview  # noqa: E402

project = "metareview"
author = "metareview developers"
copyright = "metareview developers"
release = metareview.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "screenshots/README.md", "scale.md"]
templates_path = ["_templates"]
nitpicky = False

# -- API reference --------------------------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # numpydoc's Parameters section says the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- gallery ----------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": [str(ROOT / "examples" / "gallery")],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "capture_repr": ("_repr_html_", "__repr__"),
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
}

# -- HTML -------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"metareview {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_static_path: list[str] = []
html_show_sourcelink = False

warnings.filterwarnings("ignore", category=UserWarning, message="Matplotlib is currently using agg")


def setup(app):
    """Write the validation page before the sources are read."""
    app.connect("builder-inited", lambda app: write_validation_page(DOCS / "validation.rst"))
