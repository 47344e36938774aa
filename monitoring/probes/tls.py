"""TLS: the days until the server's certificate expires (warning and critical levels), whether
its chain verifies (against the system's CAs or the check's ``ca_file``) and whether it is valid
for the server name. With ``verify_chain`` off the chain is not checked, the name still is."""

import asyncio
import datetime as dt
import functools
import ipaddress
import ssl
import time

from cryptography import x509
from cryptography.x509.oid import NameOID

from monitoring import targets
from monitoring.choices import ResultStatus
from monitoring.probes.common import endpoint, ms, reason
from monitoring.probes.tcp import close


def context(verify_chain, ca_file=None):
    if verify_chain:
        return ssl.create_default_context(cafile=ca_file) if ca_file else system_context()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@functools.cache
def system_context():
    """The verifying context with the system's CAs (loaded once per process)."""
    return ssl.create_default_context()


def names_of(cert):
    """The DNS names and IP addresses the certificate is for (its SAN; the CN when it has none)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return san.get_values_for_type(x509.DNSName), [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        common = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        return [str(value) for value in common], []


def matches(cert, server_name):
    """Whether the certificate is valid for ``server_name`` (RFC 6125: one left-most wildcard label)."""
    dns_names, ips = names_of(cert)
    literal = targets.literal_ip(server_name)
    if literal is not None:
        return any(ipaddress.ip_address(ip) == literal for ip in ips)
    name = server_name.rstrip(".").lower()
    for pattern in (n.rstrip(".").lower() for n in dns_names):
        if pattern == name:
            return True
        if pattern.startswith("*.") and "." in name and name.split(".", 1)[1] == pattern[2:]:
            return True
    return False


async def handshake(address, port, server_name, ctx):
    """The peer's certificate (DER) after a TLS handshake with ``address``."""
    sni = None if targets.literal_ip(server_name) else server_name
    _reader, writer = await asyncio.open_connection(
        address, port, ssl=ctx, server_hostname=server_name if ctx.check_hostname else sni
    )
    try:
        return writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        await close(writer)


async def handshake_any(addresses, port, server_name, ctx):
    """``handshake`` with the first of ``addresses`` that accepts a connection."""
    for address in addresses[:-1]:
        try:
            return await handshake(address, port, server_name, ctx)
        except ssl.SSLError:
            raise
        except OSError:
            continue
    return await handshake(addresses[-1], port, server_name, ctx)


def judge(cert, *, where, warning_days, critical_days, now=None):
    """``(status, message)`` for the certificate's expiry."""
    now = now or dt.datetime.now(dt.UTC)
    expires = cert.not_valid_after_utc
    left = (expires - now).total_seconds() / 86400
    when = f"{expires:%Y-%m-%d %H:%M} UTC"
    if left <= 0:
        return ResultStatus.DOWN, f"The certificate of {where} expired on {when}."
    if cert.not_valid_before_utc > now:
        return (
            ResultStatus.DOWN,
            f"The certificate of {where} is not valid before {cert.not_valid_before_utc:%Y-%m-%d}.",
        )
    days = int(left)
    text = f"The certificate of {where} expires in {days} day{'s' if days != 1 else ''} ({when})"
    if left < critical_days:
        return ResultStatus.DOWN, f"{text}: under the critical level of {critical_days} days."
    if left < warning_days:
        return ResultStatus.WARNING, f"{text}: under the warning level of {warning_days} days."
    return ResultStatus.UP, f"{text}."


async def probe(spec):
    params = spec.params or {}
    port = int(spec.port or 443)
    server_name = params.get("server_name") or spec.target
    verify_chain = params.get("verify_chain", True)
    where = endpoint(server_name, port)
    try:
        ctx = context(verify_chain, params.get("ca_file"))
    except (OSError, ssl.SSLError) as exc:
        return ResultStatus.UNKNOWN, None, f"Cannot load the CA file {params.get('ca_file')!r}: {reason(exc)}."
    started = time.perf_counter()
    try:
        der = await handshake_any(await targets.resolve(spec.target, port), port, server_name, ctx)
    except targets.Unresolvable as exc:
        return ResultStatus.DOWN, None, str(exc)
    except ssl.SSLCertVerificationError as exc:
        return ResultStatus.DOWN, None, f"The certificate of {where} is not valid: {exc.verify_message or exc}."
    except (OSError, ssl.SSLError) as exc:
        return ResultStatus.DOWN, None, f"TLS handshake with {where} failed: {reason(exc)}."
    latency = ms(started)
    if not der:
        return ResultStatus.DOWN, latency, f"{where} sent no certificate."
    cert = x509.load_der_x509_certificate(der)
    if not verify_chain and not matches(cert, server_name):
        dns_names, ips = names_of(cert)
        names = ", ".join([*dns_names, *ips][:5]) or "no names"
        return (
            ResultStatus.DOWN,
            latency,
            f"The certificate of {where} is not valid for {server_name} (it is for {names}).",
        )
    status, message = judge(
        cert,
        where=where,
        warning_days=int(params.get("warning_days", 21)),
        critical_days=int(params.get("critical_days", 7)),
    )
    return status, latency, message
