"""Which feed URLs newsflow may fetch: http(s) only, and (in production) public addresses only.

A feed registry is user input; without this check a feed URL could make the poller read
cloud metadata endpoints (169.254.169.254) or internal services (SSRF). Every redirect hop
is checked too. The check resolves the host name itself; a resolver is injectable for tests.

Known limit: the HTTP client resolves the name again when it connects, so a DNS server that
answers differently the second time (DNS rebinding) is not stopped here; pinning the checked
address into the transport would close that gap.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from ingest.errors import FetchConnectionError, UnsafeFeedUrl

Resolver = Callable[[str, int], Sequence[str]]
ALLOWED_SCHEMES = ("http", "https")


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses the system resolver gives for ``host`` (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


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


def check_url(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> None:
    """Refuse ``url`` unless it is http(s) and (unless allowed) every address of its host is public."""
    host, port = check_scheme(url)
    if allow_private:
        return
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = list(resolver(host, port))
        except OSError as exc:
            raise FetchConnectionError(f"cannot resolve {host}: {exc}") from exc
    if not addresses:
        raise FetchConnectionError(f"{host} resolved to no address")
    private = [a for a in addresses if not is_public_address(a)]
    if private:
        raise UnsafeFeedUrl(
            f"{host} resolves to non-public address {private[0]}; "
            "set allow_private_feed_addresses only for local test feeds"
        )
