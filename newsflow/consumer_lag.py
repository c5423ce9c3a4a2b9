"""Consumer lag as the Prometheus gauge ``newsflow_consumer_lag`` (one sample per partition).

The lag itself is read by the Kafka edge (``newsflow.kafka.lag.consumer_lag``, which ``newsflow
status`` prints too); this module only turns it into metric families on each scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from newsflow.errors import BrokerUnavailableError
from newsflow.kafka import consumer_lag
from newsflow.settings import Settings

log = logging.getLogger(__name__)
METRIC = "newsflow_consumer_lag"
DEPENDENCY_METRIC = "newsflow_dependency_up"


class ConsumerLagCollector(Collector):
    """``newsflow_consumer_lag{group,topic,partition}``, read from the broker on each scrape.

    A broker that does not answer yields no lag samples (and a log line), so the scrape of the other
    metrics still succeeds, and ``newsflow_dependency_up{dependency="kafka"} 0`` says why.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            METRIC,
            "Messages in the partition after the consumer group's committed offset.",
            labels=["group", "topic", "partition"],
        )
        up = GaugeMetricFamily(
            DEPENDENCY_METRIC, "1 when the dependency answered this scrape, 0 when not.", labels=["dependency"]
        )
        try:
            lag = consumer_lag(self._settings)
        except BrokerUnavailableError as exc:
            log.warning("consumer lag not exported: %s", exc)
            up.add_metric(["kafka"], 0.0)
        else:
            up.add_metric(["kafka"], 1.0)
            for p in lag.partitions:
                family.add_metric([lag.group, lag.topic, str(p.partition)], float(p.lag))
        yield family
        yield up
