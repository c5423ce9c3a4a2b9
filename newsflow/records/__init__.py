"""The domain records every layer shares: feed, article (doc), ingest ledger entry, topic, lineage event, alert.

Plain frozen dataclasses and enums over the core (settings, errors, contracts); nothing here imports
the store, the Kafka edge, ``ingest`` or ``clustering``, so every layer above can use them.
"""
