"""Grouping due feeds by host, so that no host gets more than a fixed number of requests at once.

Outlets publish many feeds from one host (welt.de has a dozen section feeds). If every feed
were its own parallel task, a run would hit that host with as many simultaneous requests as
there are workers. Instead the DAG maps one task per *lane*: a lane holds feeds of one host
only, polled one after the other, and a host's feeds are spread over at most ``per_host``
lanes. Concurrency per host is then bounded by ``per_host`` whatever the executor and worker
count, with no pool or lock to set up; different hosts still run in parallel.

The key is the URL's host name: different names of one outlet (www.x and feeds.x) count as
different hosts, which errs on the side of simplicity, not of load (a name is usually a
server or a CDN front of its own).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from newsflow.records.feed import FeedSpec


@dataclass(frozen=True)
class HostLane:
    """Feeds of one host that one task polls sequentially."""

    host: str
    feeds: tuple[str, ...]
    lane: int = 0  # 0 .. per_host-1

    @property
    def label(self) -> str:
        """Names the mapped task in Airflow: the host, plus the lane when a host has more than one."""
        return self.host if self.lane == 0 else f"{self.host}#{self.lane + 1}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly (XCom)."""
        return {"host": self.host, "lane": self.lane, "label": self.label, "feeds": list(self.feeds)}


def group_by_host(feeds: Iterable[FeedSpec], per_host: int = 1) -> list[HostLane]:
    """Lanes for ``feeds``: each host's feeds (in the given order) dealt round-robin over up to ``per_host`` lanes.

    Lanes are sorted by host then lane, so a run's map indexes are stable from run to run.
    """
    if per_host < 1:
        raise ValueError("per_host must be at least 1")
    by_host: dict[str, list[str]] = {}
    for feed in feeds:
        by_host.setdefault(feed.host, []).append(feed.name)
    lanes = []
    for host in sorted(by_host):
        names = by_host[host]
        for lane in range(min(per_host, len(names))):
            lanes.append(HostLane(host, tuple(names[lane::per_host]), lane))
    return lanes
