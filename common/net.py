"""Client addresses: which hop of X-Forwarded-For to trust, how much of an address to keep,
and which network a per-client limit counts against."""

import functools
import ipaddress
import logging

from django.conf import settings

logger = logging.getLogger(__name__)

# One subscriber is usually given a whole IPv6 /64 (RFC 6177), so a limit counted per
# address would give each of them 2^64 fresh counters.
RATE_LIMIT_IPV6_PREFIX = 64


def client_ip(request) -> str:
    """The client's address. Behind a proxy, set TRUSTED_PROXY_COUNT so the right hop of
    X-Forwarded-For is used (a client can forge the left-most entries)."""
    hops = settings.TRUSTED_PROXY_COUNT
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    if forwarded and not hops:
        proxy_count_warning()
    return request.META.get("REMOTE_ADDR", "")


@functools.cache  # once per process: the setting is the same for every request
def proxy_count_warning() -> None:
    logger.warning(
        "Requests carry X-Forwarded-For but TRUSTED_PROXY_COUNT is 0: if a proxy is in front "
        "of the site, every visitor shares its address for the rate limits and the admin "
        "sign-in lockout (docs/deploy.md, nginx)."
    )


def _parse(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped:
        return address.ipv4_mapped  # ::ffff:192.0.2.1 is the IPv4 client 192.0.2.1
    return address


def ip_truncate(ip: str) -> str:
    """Keep a lead's network, not the person: IPv4 /24, IPv6 /48."""
    address = _parse(ip)
    if address is None:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def ip_rate_limit_key(ip: str) -> str:
    """What a per-client limit counts: the IPv4 address, or the IPv6 /64 the address is in
    (written as its network address, e.g. "2001:db8:1:2::"). Anything unparsable shares
    one "unknown" counter rather than getting a fresh one per spelling."""
    address = _parse(ip)
    if address is None:
        return "unknown"
    if address.version == 4:
        return str(address)
    network = ipaddress.ip_network(f"{address}/{RATE_LIMIT_IPV6_PREFIX}", strict=False)
    return str(network.network_address)


def client_rate_limit_key(request) -> str:
    """`ip_rate_limit_key` of the request's client address."""
    return ip_rate_limit_key(client_ip(request))
