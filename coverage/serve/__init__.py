"""``fcov serve``: a local what-if page over one loaded study.

Proposed 120 stations are added, moved and removed on a Leaflet map; each
edit is answered by :class:`~coverage.serve.scenario.ScenarioEngine` from
costs computed at load (one bounded Dijkstra per new station), and the
district x target grid updates. :func:`~coverage.serve.app.create_app` is the
ASGI app (FastAPI, OpenAPI at ``/docs``); docs/serve.md describes the API.
"""

from __future__ import annotations
