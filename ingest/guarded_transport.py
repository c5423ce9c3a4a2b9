"""An httpx transport whose connections go only to addresses the ``AddressPolicy`` has just checked.

Checking a URL and then letting the HTTP client resolve the name again leaves a gap: a DNS
server can answer with a public address for the check and 127.0.0.1 for the connection
(DNS rebinding). Here the check *is* the resolution: httpcore asks its network backend for
a TCP connection to (host, port), and this backend resolves the host through the policy,
refuses it if any address is not allowed, and connects to those very addresses. Every
connection goes through it, so every redirect hop is covered, whatever the redirect says.

TLS is unaffected: httpcore starts TLS with the URL's host name (SNI and certificate check),
not with the address connected to.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import httpcore
import httpx
from httpcore._backends.base import SOCKET_OPTION

from ingest.urlsafety import AddressPolicy

log = logging.getLogger(__name__)

# A name with many addresses must not multiply the connect timeout without bound.
MAX_CONNECT_ATTEMPTS = 3


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, resolving through an ``AddressPolicy`` and connecting to checked addresses."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._policy.addresses(host, port)  # raises UnsafeFeedUrl before any socket exists
        options = list(socket_options or [])
        last_error: httpcore.ConnectError | None = None
        for address in addresses[:MAX_CONNECT_ATTEMPTS]:
            try:
                return super().connect_tcp(address, port, timeout, local_address, options)
            except httpcore.ConnectError as exc:  # refused or unreachable: try the next address
                log.debug("connect to %s (%s) port %d failed: %s", host, address, port, exc)
                last_error = exc
        assert last_error is not None  # addresses() never returns an empty list
        raise last_error


class GuardedTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` (no proxy, no environment) over a ``GuardedBackend``."""

    def __init__(self, policy: AddressPolicy, *, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits(max_connections=10, max_keepalive_connections=10, keepalive_expiry=5.0)
        super().__init__(trust_env=False, limits=limits)
        # httpx builds its pool without a way to pass a network backend; the pool is all this swaps.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy),
        )
