"""Which addresses newsflow may fetch from: http(s) only, and (in production) public addresses only.

A feed registry is user input; without this check a feed URL could make the poller read
cloud metadata endpoints (169.254.169.254) or internal services (SSRF). ``AddressPolicy``
resolves a host name once and refuses it if *any* of its addresses is not allowed; the
fetcher's transport (``ingest.guarded_transport``) applies it when it opens each connection
and then connects to exactly the addresses it checked, so a DNS answer that changes between
check and connect (DNS rebinding) or a redirect into the private network is refused too.
The resolver and the address predicate are injectable, so tests need neither DNS nor a
public address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ingest.errors import FetchConnectionError, UnsafeFeedUrl

Resolver = Callable[[str, int], Sequence[str]]
AddressPredicate = Callable[[str], bool]
ALLOWED_SCHEMES = ("http", "https")


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses the system resolver gives for ``host``, in its order of preference, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


def check_scheme(url: str) -> tuple[str, int]:
    """Host and port of an http(s) URL, or ``UnsafeFeedUrl``."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise UnsafeFeedUrl(f"only http and https feeds are fetched, not {parts.scheme or 'no scheme'!r}: {url}")
    if not parts.hostname:
        raise UnsafeFeedUrl(f"URL has no host: {url}")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError as exc:
        raise UnsafeFeedUrl(f"URL has an invalid port: {url}") from exc
    return parts.hostname, port


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


@dataclass(frozen=True)
class AddressPolicy:
    """Resolve a host and refuse it unless every address passes ``is_allowed`` (or private ones are allowed)."""

    allow_private: bool = False
    resolver: Resolver = system_resolver
    is_allowed: AddressPredicate = is_public_address

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to, all checked; ``UnsafeFeedUrl`` or ``FetchConnectionError`` otherwise."""
        literal = _literal(host)
        if literal is not None:
            found = [literal]
        else:
            try:
                found = list(self.resolver(host, port))
            except OSError as exc:
                raise FetchConnectionError(f"cannot resolve {host}: {exc}") from exc
        if not found:
            raise FetchConnectionError(f"{host} resolved to no address")
        if not self.allow_private:
            refused = [a for a in found if not self.is_allowed(a)]
            if refused:
                raise UnsafeFeedUrl(
                    f"{host} resolves to non-public address {refused[0]}; "
                    "set allow_private_feed_addresses only for local test feeds"
                )
        return found

    def check_url(self, url: str) -> list[str]:
        """``check_scheme`` plus ``addresses`` for the URL's host."""
        host, port = check_scheme(url)
        return self.addresses(host, port)
