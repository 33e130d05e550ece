"""The web app for review teams (``pip install 'metareview[web]'``): accounts and roles,
blinded screening in the browser, conflicts, a live dashboard and a JSON API, on the same
store and rules as the command line.

>>> from metareview.web import create_app, serve
"""

from metareview.web.app import create_app, serve

__all__ = ["create_app", "serve"]
