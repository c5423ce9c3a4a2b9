"""A feed as operators register it: the record the registry, the poller and the sample feeds share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from newsflow.errors import ConfigError

# Names appear in CLI arguments, Airflow map indexes and URLs of the sample server: keep them plain.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
DEFAULT_POLL_INTERVAL_S = 900


@dataclass(frozen=True)
class FeedSpec:
    name: str
    url: str
    outlet: str
    language: str | None = None
    poll_interval_s: int = DEFAULT_POLL_INTERVAL_S
    tags: tuple[str, ...] = field(default_factory=tuple)
    enabled: bool = True
    fulltext: bool = False  # fetch each new article's page and extract its text (teaser-only feeds)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(
                f"feed name {self.name!r} must be 1-200 letters, digits, '.', '_' or '-', starting alphanumeric"
            )
        if urlsplit(self.url).scheme not in ("http", "https"):
            raise ConfigError(f"feed {self.name}: URL must be http(s), got {self.url!r}")
        if self.poll_interval_s < 0:
            raise ConfigError(f"feed {self.name}: poll interval must be >= 0 s")
        if not self.outlet.strip():
            raise ConfigError(f"feed {self.name}: outlet must not be empty")

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()
