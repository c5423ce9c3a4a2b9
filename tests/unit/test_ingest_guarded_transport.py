"""The address policy applied where connections are made: DNS answers and redirects under the production config.

Real sockets, loopback only: a server on 127.0.0.2 stands in for a public host (the injected
address predicate treats 127.0.0.2, and only it, as public), a server on 127.0.0.1 is the
internal service an attacker wants to reach. Host names resolve through an injected resolver.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ingest.errors import FetchConnectionError, UnsafeFeedUrl
from ingest.fetch import Fetcher
from ingest.urlsafety import AddressPolicy, is_public_address
from newsflow.settings import Settings
from tests.fixtures.feeds.builders import Item, rss
from tests.fixtures.feeds.server import Reply, ScriptedServer

PUBLIC_STAND_IN = "127.0.0.2"
FEED = rss([Item("Story", "http://news.example/1")]).encode()
PRODUCTION = Settings(allow_private_feed_addresses=False, http_connect_timeout_s=2, http_read_timeout_s=2)


def allowed(address: str) -> bool:
    return address == PUBLIC_STAND_IN or is_public_address(address)


class ScriptedResolver:
    """Answers from a per-host list of replies (the last one repeats), recording every question."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        replies = self.answers[host]
        return replies.pop(0) if len(replies) > 1 else replies[0]


@pytest.fixture
def public() -> Iterator[ScriptedServer]:
    with ScriptedServer(PUBLIC_STAND_IN) as server:
        yield server


@pytest.fixture
def internal() -> Iterator[ScriptedServer]:
    with ScriptedServer("127.0.0.1") as server:
        server.route("/admin", Reply(200, FEED))
        yield server


def fetcher(resolver: ScriptedResolver, settings: Settings = PRODUCTION) -> Fetcher:
    return Fetcher(settings, resolver=resolver, address_allowed=allowed)


def port(server: ScriptedServer) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


def test_connects_to_the_checked_address_with_the_host_name_kept(public: ScriptedServer) -> None:
    public.route("/feed.xml", Reply(200, FEED))
    resolver = ScriptedResolver({"news.example": [[PUBLIC_STAND_IN]]})
    with fetcher(resolver) as f:
        result = f.fetch(f"http://news.example:{port(public)}/feed.xml")
    assert result.status == 200 and result.body == FEED
    assert resolver.asked == ["news.example"]  # one resolution, and it is the one connected to
    assert public.requests[0].headers["host"] == f"news.example:{port(public)}"


def test_resolver_answering_a_private_address_is_refused(internal: ScriptedServer) -> None:
    resolver = ScriptedResolver({"evil.example": [["127.0.0.1"]]})
    with fetcher(resolver) as f, pytest.raises(UnsafeFeedUrl, match=r"non-public address 127\.0\.0\.1"):
        f.fetch(f"http://evil.example:{port(internal)}/admin")
    assert internal.requests == []


def test_one_private_address_among_public_ones_is_refused(internal: ScriptedServer) -> None:
    resolver = ScriptedResolver({"mixed.example": [[PUBLIC_STAND_IN, "127.0.0.1"]]})
    with fetcher(resolver) as f, pytest.raises(UnsafeFeedUrl):
        f.fetch(f"http://mixed.example:{port(internal)}/admin")
    assert internal.requests == []


def test_dns_rebinding_is_caught_on_the_next_connection(public: ScriptedServer, internal: ScriptedServer) -> None:
    """The name answers public first, then loopback: the second connection is refused, never made."""
    assert port(public) != port(internal)
    public.route("/admin", Reply(200, FEED))
    resolver = ScriptedResolver({"rebind.example": [[PUBLIC_STAND_IN], ["127.0.0.1"]]})
    with fetcher(resolver) as f:
        # The stdlib test server closes every connection (HTTP/1.0), so each fetch resolves anew.
        assert f.fetch(f"http://rebind.example:{port(public)}/admin").status == 200
        with pytest.raises(UnsafeFeedUrl):
            f.fetch(f"http://rebind.example:{port(internal)}/admin")
    assert resolver.asked == ["rebind.example", "rebind.example"]
    assert internal.requests == [] and len(public.requests) == 1


@pytest.mark.parametrize("target", ["http://127.0.0.1:{port}/admin", "http://internal.example:{port}/admin"])
def test_redirect_from_a_public_host_to_loopback_is_refused(
    target: str, public: ScriptedServer, internal: ScriptedServer
) -> None:
    public.route("/feed.xml", Reply(302, headers={"Location": target.format(port=port(internal))}))
    resolver = ScriptedResolver({"news.example": [[PUBLIC_STAND_IN]], "internal.example": [["127.0.0.1"]]})
    with fetcher(resolver) as f, pytest.raises(UnsafeFeedUrl):
        f.fetch(f"http://news.example:{port(public)}/feed.xml")
    assert len(public.requests) == 1 and internal.requests == []


def test_private_addresses_are_fine_when_the_config_allows_them(internal: ScriptedServer) -> None:
    resolver = ScriptedResolver({"local.example": [["127.0.0.1"]]})
    demo = PRODUCTION.model_copy(update={"allow_private_feed_addresses": True})
    with fetcher(resolver, demo) as f:
        assert f.fetch(f"http://local.example:{port(internal)}/admin").body == FEED


def test_falls_back_to_the_next_checked_address_when_one_refuses(public: ScriptedServer) -> None:
    public.route("/feed.xml", Reply(200, FEED))
    # 127.0.0.3 has no listener: refused at once, then the second (also checked) address answers.
    policy_allowed = {"127.0.0.3", PUBLIC_STAND_IN}
    resolver = ScriptedResolver({"two.example": [["127.0.0.3", PUBLIC_STAND_IN]]})
    f = Fetcher(PRODUCTION, resolver=resolver, address_allowed=lambda a: a in policy_allowed)
    with f:
        assert f.fetch(f"http://two.example:{port(public)}/feed.xml").status == 200


def test_unresolvable_name_is_a_connection_error() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with Fetcher(PRODUCTION, resolver=fail) as f, pytest.raises(FetchConnectionError, match="cannot resolve"):
        f.fetch("http://nowhere.example/feed.xml")


def test_policy_checks_literals_without_resolving() -> None:
    def never(host: str, port: int) -> list[str]:
        raise AssertionError("an IP literal must not be resolved")

    policy = AddressPolicy(allow_private=False, resolver=never)
    assert policy.addresses("93.184.216.34", 80) == ["93.184.216.34"]
    with pytest.raises(UnsafeFeedUrl):
        policy.addresses("::1", 80)
