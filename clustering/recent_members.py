"""The most recent members of each topic, kept as the worker learns them (its summaries read them)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime

SUMMARY_MEMBERS = 200  # a topic's summary reads its most recent members, at most this many


class RecentMembers:
    """The most recent members of each topic by (published, id), kept as the worker learns them.

    ``summaries_for`` summarises a topic from its ``limit`` most recent members; finding them by a scan
    of every member costs O(window) per batch. This keeps, per topic, the newest ``limit`` entries plus
    anything seen since (a revised article is noted again with its new time), and the highest key it
    ever dropped (``floor``): a member it does not hold is never newer than that. Entries are checked
    against the live membership map when read, so an article that left the topic is just skipped;
    when too few entries above the floor remain, ``newest`` answers None and the caller scans.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._keys: dict[int, dict[str, datetime]] = defaultdict(dict)
        self._floor: dict[int, tuple[datetime, str]] = {}

    def note(self, topic_id: int, article_id: str, published: datetime) -> None:
        keys = self._keys[topic_id]
        keys[article_id] = published
        if len(keys) > 2 * self.limit:  # amortised: prune to the newest ``limit`` only now and then
            ordered = sorted((p, a) for a, p in keys.items())
            dropped, kept = ordered[: -self.limit], ordered[-self.limit :]
            self._floor[topic_id] = max(dropped[-1], self._floor.get(topic_id, dropped[-1]))
            self._keys[topic_id] = {a: p for p, a in kept}

    def newest(self, topic_id: int, members: Mapping[str, int]) -> list[str] | None:
        """Ids of the topic's ``limit`` most recent members in ``members``, or None if it cannot tell."""
        floor = self._floor.get(topic_id)
        live = sorted((p, a) for a, p in self._keys.get(topic_id, {}).items() if members.get(a) == topic_id)
        chosen = live[-self.limit :]
        if floor is not None and (len(chosen) < self.limit or chosen[0] <= floor):
            return None
        return [a for _, a in chosen]
