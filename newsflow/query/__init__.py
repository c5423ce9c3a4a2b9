"""The analysts' read layer over the store, shared by ``newsflow topics`` and the REST API.

Pure SQLAlchemy Core reads of topics, memberships, articles, lineage events and topic growth:
``listing`` (filtered, sorted pages and keyword search), ``semantic`` (centroid search),
``detail`` (one topic: articles, timeline, lineage). Results are plain JSON-ready dicts.
"""
