"""Routes of the web app: pages (login, invites, projects), the project dashboard and its
owner's tools, screening, and the JSON API under ``/api/v1``."""
