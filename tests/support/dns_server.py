"""A small authoritative DNS server on loopback (UDP), built from dnspython's own message
classes, for the lead score's MX lookups: tests point LEAD_DNS_NAMESERVERS/LEAD_DNS_PORT at
it and choose each domain's answer.

    zones = {"acme.example": ["mx1.acme.example"],   # MX records
             "null.example": ["."],                  # a null MX (RFC 7505)
             "bare.example": [],                     # the name exists, no MX (NOERROR, empty)
             "slow.example": DnsServer.SILENT}       # never answered (a timeout)
    anything else: NXDOMAIN

`queries` lists every name asked, so a test can tell a cached answer from a new lookup."""

import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class DnsServer:
    SILENT = object()

    def __init__(self, zones: dict):
        self.zones = {k.lower().rstrip("."): v for k, v in zones.items()}
        self.queries: list[str] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="dns-server")

    def start(self) -> "DnsServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                wire, client = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            answer = self._answer(wire)
            if answer is not None:
                self.sock.sendto(answer, client)

    def _answer(self, wire: bytes) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text().lower().rstrip(".")
        self.queries.append(name)
        zone = self.zones.get(name)
        if zone is self.SILENT:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if zone is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.MX and zone:
            records = [f"{10 * (i + 1)} {host.rstrip('.')}." for i, host in enumerate(zone)]
            if zone == ["."]:
                records = ["0 ."]
            response.answer.append(
                dns.rrset.from_text_list(question.name, 300, dns.rdataclass.IN, "MX", records)
            )
        return response.to_wire()
