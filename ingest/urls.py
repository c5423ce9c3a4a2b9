"""Canonical article URLs: the same article reached through different links gets one URL (and one id).

Only changes that cannot alter which page a server returns are made: relative links resolved,
scheme and host lower-cased, default ports and fragments dropped, tracking parameters removed.
The order of the remaining query parameters is kept (some servers care).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# Parameters that only tell analytics where a click came from.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid",
        "igshid", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id",
        "vero_id", "vero_conv", "wt_mc", "wt.mc_id", "at_medium", "at_campaign", "ns_mchannel", "ns_source",
        "ns_campaign", "ns_linkname", "ns_fee", "cmpid", "xtor", "s_cid",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmb_", "__twitter")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonical_url(link: str, base: str = "") -> str:
    """Absolute, tidied form of ``link`` (resolved against ``base``); '' when nothing usable remains."""
    link = link.strip()
    if not link:
        return ""
    absolute = urljoin(base, link) if base else link
    parts = urlsplit(absolute)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return absolute  # not a web URL (urn:, tag:, mailto:): left as given
    netloc = _netloc(scheme, parts.hostname, parts.port if _valid_port(parts) else None, parts.username)
    path = parts.path or "/"  # percent-escapes kept as sent: %2F and / may differ to the server
    query = _strip_tracking(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def _valid_port(parts: object) -> bool:
    try:
        _ = parts.port  # type: ignore[attr-defined]
    except ValueError:
        return False
    return True


def _netloc(scheme: str, host: str, port: int | None, user: str | None) -> str:
    host = host.lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{user}@{host}" if user else host


def _strip_tracking(query: str) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not is_tracking_param(k)]
    if len(kept) == len(pairs):
        return query  # untouched: keeps the server's own encoding of the parameters
    return urlencode(kept, doseq=True)
