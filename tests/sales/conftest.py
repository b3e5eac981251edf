import pytest

from tests.support.dns_server import DnsServer

ZONES = {
    "bigpharma.example": ["mx1.bigpharma.example", "mx2.bigpharma.example"],
    "acme-pharma.example": ["mail.acme-pharma.example"],
    "null-mx.example": ["."],
    "bare.example": [],
    "slow.example": DnsServer.SILENT,
}


@pytest.fixture
def dns_server(settings):
    """The DNS server the MX lookups ask, with ZONES (anything else: NXDOMAIN)."""
    server = DnsServer(ZONES).start()
    settings.LEAD_DNS_NAMESERVERS = ["127.0.0.1"]
    settings.LEAD_DNS_PORT = server.port
    settings.LEAD_MX_TIMEOUT_SECONDS = 0.5
    yield server
    server.stop()
