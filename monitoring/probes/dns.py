"""DNS: query a record type for a name — at the check's nameserver (an IP, port 53 unless set),
or through the worker's own resolver — and compare the answer with the expected values."""

import time

import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

from monitoring import targets
from monitoring.choices import ResultStatus
from monitoring.probes.common import ms

SHOWN = 5  # answers quoted in a message


def rdata_texts(rdata):
    """The ways an expected value may name one answer: its text, plus the name it points at (MX
    exchange, SRV target); TXT strings joined, unquoted. Compared by ``normalise``."""
    if rdata.rdtype == dns.rdatatype.TXT:
        texts = {b"".join(rdata.strings).decode("utf-8", errors="replace")}
    else:
        texts = {rdata.to_text()}
    for attribute in ("exchange", "target"):
        name = getattr(rdata, attribute, None)
        if isinstance(name, dns.name.Name):
            texts.add(name.to_text())
    return {normalise(text) for text in texts}


def normalise(text):
    """Case and a final dot do not matter."""
    return str(text).strip().rstrip(".").lower()


def answers_of(response, rdtype):
    """The answers of ``rdtype`` in a response (following its CNAME chain)."""
    return [rdata for rrset in response.answer if rrset.rdtype == rdtype for rdata in rrset]


async def ask_nameserver(name, rdtype, nameserver, port, timeout):
    targets.check([nameserver])
    query = dns.message.make_query(name, rdtype)
    query.flags |= dns.flags.RD
    response, _tcp = await dns.asyncquery.udp_with_fallback(query, nameserver, timeout=timeout, port=port)
    return response.rcode(), answers_of(response, rdtype)


async def ask_resolver(name, rdtype, timeout):
    resolver = dns.asyncresolver.Resolver()
    try:
        answer = await resolver.resolve(name, rdtype, raise_on_no_answer=False, lifetime=timeout, search=False)
    except dns.resolver.NXDOMAIN:
        return dns.rcode.NXDOMAIN, []
    return dns.rcode.NOERROR, list(answer.rrset or [])


async def probe(spec):
    params = spec.params or {}
    rdtype = dns.rdatatype.from_text(params.get("record_type", "A"))
    type_name = dns.rdatatype.to_text(rdtype)
    name = spec.target.strip()
    nameserver = params.get("nameserver") or ""
    port = int(spec.port or params.get("port") or 53)
    where = f"nameserver {nameserver}" + (f":{port}" if port != 53 else "") if nameserver else "the worker's resolver"
    started = time.perf_counter()
    try:
        if nameserver:
            rcode, answers = await ask_nameserver(name, rdtype, nameserver, port, spec.timeout)
        else:
            rcode, answers = await ask_resolver(name, rdtype, spec.timeout)
    except dns.exception.Timeout:
        return ResultStatus.DOWN, None, f"No answer from {where} for {type_name} {name} (timed out)."
    except dns.resolver.NoNameservers as exc:
        return ResultStatus.DOWN, None, f"No nameserver answered {type_name} {name}: {exc}"
    except dns.exception.DNSException as exc:
        return ResultStatus.DOWN, None, f"Invalid answer from {where} for {type_name} {name}: {exc}"
    except OSError as exc:
        return ResultStatus.DOWN, None, f"Cannot ask {where}: {exc.strerror or exc}"
    latency = ms(started)
    if rcode == dns.rcode.NXDOMAIN:
        return ResultStatus.DOWN, latency, f"{name} does not exist (NXDOMAIN from {where})."
    if rcode != dns.rcode.NOERROR:
        return ResultStatus.DOWN, latency, f"{where} answered {dns.rcode.to_text(rcode)} for {type_name} {name}."
    if not answers:
        return ResultStatus.DOWN, latency, f"No {type_name} record for {name} at {where}."
    shown = ", ".join(sorted(rdata.to_text() for rdata in answers)[:SHOWN])
    if len(answers) > SHOWN:
        shown += f" (+{len(answers) - SHOWN} more)"
    texts = set().union(*(rdata_texts(rdata) for rdata in answers))
    missing = [value for value in params.get("expected") or [] if normalise(value) not in texts]
    if missing:
        expected = ", ".join(repr(value) for value in missing)
        return ResultStatus.DOWN, latency, f"{type_name} {name}: expected {expected} not in the answer [{shown}]."
    return ResultStatus.UP, latency, f"{type_name} {name} → {shown} ({latency:.0f} ms)."
