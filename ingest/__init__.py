"""Feed ingestion: stages over typed records, and the thin edges that wire them to HTTP, Kafka and the store.

Stages (no Kafka, Airflow or database imports): ``fetch`` (polite HTTP, through
``guarded_transport`` and the ``urlsafety`` address policy), ``parse`` (feedparser, with
``charset`` and the entity guard), ``normalise`` (``urls``, ``html_text``, ``language``),
``dedupe`` (``simhash``), ``fulltext`` (optional page text, trafilatura), ``schedule`` (when to
poll next), ``hosts`` (per-host lanes). Edges: ``poll`` (one feed, publish-then-record),
``runner`` (a run over many feeds, used by the DAG and ``newsflow ingest once``), ``opml``.
Errors are named in ``ingest.errors``.
"""
