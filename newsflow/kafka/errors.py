"""How kafka-python's errors leave the edge: as newsflow errors, worded once.

Callers outside ``newsflow.kafka`` catch no kafka-python exception. A client that cannot reach the
broker becomes ``BrokerUnavailableError`` (the CLI prints it as one named line); a commit the group
refused because it rebalanced becomes ``RebalancedError``, which the worker survives. One kind still
passes through unworded, as it always has: a send kafka-python refuses before queueing it
(``producer.send_all``).
"""

from __future__ import annotations

from newsflow.errors import BrokerUnavailableError, NewsflowError
from newsflow.settings import Settings


class RebalancedError(NewsflowError):
    """The group rebalanced before the commit: another member owns the partitions and re-reads the batch.

    Not an outage, so it is no ``BrokerUnavailableError``: retrying the commit cannot succeed, and
    carrying on loses nothing because the writes behind the batch are idempotent.
    """


def error_detail(exc: BaseException) -> str:
    """``ErrorName: message`` without kafka-python's habit of repeating the name inside the message."""
    text = str(exc)
    return text if text.startswith(type(exc).__name__) else f"{type(exc).__name__}: {text}"


def unavailable(settings: Settings, exc: BaseException) -> BrokerUnavailableError:
    """The one wording for "no client could be made or kept talking to the broker", naming the address."""
    address = settings.kafka_bootstrap_servers
    return BrokerUnavailableError(f"Kafka broker at {address} unreachable: {error_detail(exc)}")
