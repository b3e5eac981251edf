"""Does an email domain receive mail? Its MX record, asked with dnspython under a short
timeout and kept in the cache per domain. Called only by the scoring task: a DNS lookup
never runs in a request.

A domain without MX but with an A record can still receive mail (RFC 5321 §5.1, the
"implicit MX"); lead forms fill in made-up company domains far more often than they meet
such a server, so no MX counts as none, and staff see the flag, not a rejection."""

import logging
from enum import StrEnum

import dns.exception
import dns.resolver
from django.conf import settings
from django.core.cache import cache

from common.breaker import cache_call

logger = logging.getLogger(__name__)
CACHE_PREFIX = "lead-mx:"


class Mx(StrEnum):
    FOUND = "found"
    NONE = "none"  # NXDOMAIN, or the domain answers without MX: flagged
    UNKNOWN = "unknown"  # timeout or server failure: not cached, asked again next time


def resolver() -> dns.resolver.Resolver:
    """The system's resolver, or LEAD_DNS_NAMESERVERS on LEAD_DNS_PORT (tests point it at
    a DNS server of their own on loopback)."""
    nameservers = settings.LEAD_DNS_NAMESERVERS
    made = dns.resolver.Resolver(configure=not nameservers)
    if nameservers:
        made.nameservers = list(nameservers)
    made.port = settings.LEAD_DNS_PORT
    made.lifetime = settings.LEAD_MX_TIMEOUT_SECONDS
    made.timeout = settings.LEAD_MX_TIMEOUT_SECONDS
    made.cache = None  # the site's cache keeps answers, shared by every worker
    return made


def domain_mx(domain: str, *, ask: dns.resolver.Resolver | None = None) -> Mx:
    domain = domain.strip().lower().rstrip(".")
    key = CACHE_PREFIX + domain
    cached = cache_call(lambda: cache.get(key), fallback=None, purpose="MX asked again")
    if cached:
        return Mx(cached)
    answer = _lookup(domain, ask or resolver())
    if answer is not Mx.UNKNOWN:
        seconds = settings.LEAD_MX_CACHE_SECONDS
        cache_call(
            lambda: cache.set(key, answer.value, seconds),
            fallback=None,
            purpose="the answer is not kept",
        )
    return answer


def _lookup(domain: str, ask: dns.resolver.Resolver) -> Mx:
    try:
        answers = ask.resolve(domain, "MX", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return Mx.NONE
    except dns.exception.DNSException as exc:  # a timeout, every nameserver failing
        logger.warning("MX lookup for %s failed: %s", domain, exc.__class__.__name__)
        return Mx.UNKNOWN
    # A "null MX" (RFC 7505: preference 0, exchange ".") says the domain takes no mail.
    if all(str(r.exchange) == "." for r in answers):
        return Mx.NONE
    return Mx.FOUND
