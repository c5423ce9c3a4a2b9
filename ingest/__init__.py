"""Feed ingestion: stages over typed records, and the thin edges that wire them to HTTP, Kafka and the store.

Stages (no Kafka, Airflow or database imports): ``fetch`` (polite HTTP), ``parse`` (feedparser,
with ``charset`` and the entity guard), ``normalise`` (``urls``, ``html_text``), ``dedupe``
(``simhash``), ``schedule`` (when to poll next). Edges: ``poll`` (one feed, publish-then-record),
``runner`` (a run over many feeds, used by the DAG and ``newsflow ingest once``), ``opml``.
Errors are named in ``ingest.errors``.
"""
