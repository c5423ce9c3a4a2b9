"""The Kafka edge: the only place newsflow talks kafka-python.

Stages and tools hand it records from ``newsflow.contracts`` and get back plain values or newsflow
errors (``BrokerUnavailableError``, ``RebalancedError``), never a kafka-python object they would
need kafka-python to understand. It depends on the core only (settings, errors, contracts), so
any stage can use it without pulling in the store or the models.

- ``topics``: topic names, creating them, the broker readiness probe
- ``producer``: the acknowledged producer and ``publish``
- ``consumer``: the committing group member, the group-less reader, ``poll`` and ``commit``
- ``dead_letter``: publishing, reading, counting and re-publishing dead letters; replay progress
- ``lag``: a group's consumer lag, and the lag of a consumer's own assignment
- ``errors``: how kafka-python's errors are worded for callers
"""

from newsflow.kafka.consumer import Consumer, ConsumerOptions, Received, commit, make_consumer, poll
from newsflow.kafka.dead_letter import DeadLetter, count_dead_letters, publish_dead_letters
from newsflow.kafka.errors import RebalancedError
from newsflow.kafka.lag import ConsumerLag, PartitionLag, assigned_lag, consumer_lag
from newsflow.kafka.producer import Producer, make_producer, publish
from newsflow.kafka.topics import ensure_topics, list_topics, topic_names

__all__ = [
    "Consumer",
    "ConsumerLag",
    "ConsumerOptions",
    "DeadLetter",
    "PartitionLag",
    "Producer",
    "RebalancedError",
    "Received",
    "assigned_lag",
    "commit",
    "consumer_lag",
    "count_dead_letters",
    "ensure_topics",
    "list_topics",
    "make_consumer",
    "make_producer",
    "poll",
    "publish",
    "publish_dead_letters",
    "topic_names",
]
