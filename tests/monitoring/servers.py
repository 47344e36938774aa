"""Real local servers for the probe tests: each listens on 127.0.0.1 on a free port, in a thread
of the test process, and stops when closed (or its ``with`` block ends).

- ``TCPServer``: accepts and (optionally) sends a banner, echoes, or sends random bytes;
  ``close()`` it and its port refuses connections.
- ``HTTPServer`` (HTTPS when given ``make_certificates(…)``, also the TLS checks' server):
  routes for status codes, redirects (a chain, a loop, one to the cloud metadata address),
  keyword bodies, slow, huge and gzip answers, and one that says which Host header and method
  it got.
- ``make_certificates``: a CA and a server certificate signed by it, made with ``cryptography``
  (valid for N days — or expired — for given DNS names and IPs), written as PEM files.
- ``DNSServer``: a UDP DNS server built with dnspython's ``dns.message``, answering A, TXT, MX,
  CNAME and SRV records of the zone ``test.example`` (unknown names: NXDOMAIN), or garbage.

Each is a context manager (``with TCPServer() as server: … server.port``). ``closed_port()`` is a
port nothing listens on; ``run_check(kind, target, port, timeout=…, **params)`` validates a check
like the form does and runs it once.
"""

import datetime as dt
import gzip
import http.server
import ipaddress
import os
import socket
import socketserver
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"
KEYWORD_BODY = b"<html><body>All systems operational</body></html>"
HUGE_SIZE = 8 * 1024 * 1024


class _Threaded:
    """A socketserver run in a daemon thread."""

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def close(self):
        """Stop serving and close the listening socket: the port refuses connections now."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- TCP ------------------------------------------------------------------------------------------


class _TCPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        owner = self.server.owner
        self.request.settimeout(5)
        try:
            if owner.garbage:
                self.request.sendall(os.urandom(owner.garbage))
            if owner.banner:
                self.request.sendall(owner.banner)
            if owner.echo:
                data = self.request.recv(4096)
                if data:
                    self.request.sendall(data.upper() if owner.echo == "upper" else data)
            elif owner.hold:  # read and never answer, until the client goes
                while self.request.recv(4096):
                    pass
        except OSError:
            pass


class _SocketServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class TCPServer(_Threaded):
    """A listener: ``banner`` bytes sent on connect, ``echo`` (True, or "upper") what the client
    sends, ``garbage`` N random bytes first; ``hold`` keeps a silent connection open."""

    def __init__(self, *, banner=b"", echo=False, garbage=0, hold=False):
        self.banner, self.echo, self.garbage, self.hold = banner, echo, garbage, hold
        self.server = _SocketServer((HOST, 0), _TCPHandler)
        self.server.owner = self
        self.port = self.server.server_address[1]
        self.start()


def closed_port():
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --- HTTP(S) --------------------------------------------------------------------------------------


class _HTTPHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _redirect(self, location, status=302):
        self._send(status, b"", {"Location": location})

    def do_HEAD(self):
        self.do_GET()

    def do_POST(self):
        self.do_GET()

    def do_PUT(self):
        self.do_GET()

    def do_OPTIONS(self):
        self.do_GET()

    def do_GET(self):
        url = urlsplit(self.path)
        parts = [part for part in url.path.split("/") if part]
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        request_body = self.rfile.read(length) if length else b""
        route = parts[0] if parts else "ok"
        if route == "ok":
            self._send(200, KEYWORD_BODY, {"Content-Type": "text/html; charset=utf-8"})
        elif route == "status":
            self._send(int(parts[1]), f"status {parts[1]}".encode())
        elif route == "redirect":  # /redirect/N → … → /redirect/0 → /ok
            left = int(parts[1])
            self._redirect(f"/redirect/{left - 1}" if left > 1 else "/ok")
        elif route == "see-other":
            self._redirect("/echo", 303)
        elif route == "loop":
            self._redirect("/loop")
        elif route == "metadata":
            self._redirect("http://169.254.169.254/latest/meta-data/")
        elif route == "elsewhere":  # an absolute redirect to ?to=URL
            self._redirect(query["to"][0])
        elif route == "slow":
            time.sleep(float(query.get("seconds", ["2"])[0]))
            self._send(200, b"finally")
        elif route == "huge":
            self.send_response(200)
            self.send_header("Content-Length", str(HUGE_SIZE + len(b"needle")))
            self.end_headers()
            chunk = b"x" * 65536
            try:
                for _ in range(HUGE_SIZE // len(chunk)):
                    self.wfile.write(chunk)
                self.wfile.write(b"needle")
            except OSError:
                pass  # the client stopped reading
        elif route == "gzip":
            self._send(200, gzip.compress(KEYWORD_BODY), {"Content-Encoding": "gzip"})
        elif route == "echo":  # what the server got, for headers, method and body
            lines = [f"method={self.command}", f"host={self.headers.get('Host')}", f"body={request_body.decode()}"]
            lines += [f"header:{name.lower()}={value}" for name, value in self.headers.items()]
            self._send(200, "\n".join(lines).encode())
        else:
            self._send(404, b"not found")


class _WebServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address, handler, context=None):
        self.context = context
        super().__init__(address, handler)

    def get_request(self):
        sock, address = super().get_request()
        if self.context is not None:
            sock.settimeout(5)
            try:
                sock = self.context.wrap_socket(sock, server_side=True)
            except (OSError, ssl.SSLError):
                sock.close()
                raise
        return sock, address

    def handle_error(self, request, client_address):
        pass  # a client that hung up or failed the handshake is what some tests do


class HTTPServer(_Threaded):
    """An HTTP server (HTTPS with ``cert``: a ``Certificates``) on 127.0.0.1."""

    def __init__(self, cert=None):
        context = None
        if cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert.cert_file, cert.key_file)
        self.scheme = "https" if cert else "http"
        self.server = _WebServer((HOST, 0), _HTTPHandler, context)
        self.port = self.server.server_address[1]
        self.start()

    def url(self, path="/", host=HOST):
        return f"{self.scheme}://{host}:{self.port}{path}"


# --- Certificates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    ca_file: str
    cert_file: str
    key_file: str
    not_after: dt.datetime


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificates(directory, *, days=90, names=("localhost",), ips=(HOST,), expired=False):
    """A CA and a server certificate it signs, valid from yesterday for ``days`` days (or expired
    yesterday), for ``names`` and ``ips``; PEM files in ``directory``."""
    directory = Path(directory)
    now = dt.datetime.now(dt.UTC)
    ca_key, key = _key(), _key()
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("ITOM test CA"))
        .issuer_name(_name("ITOM test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    if expired:
        not_before, not_after = now - dt.timedelta(days=30), now - dt.timedelta(days=1)
    else:
        not_before, not_after = now - dt.timedelta(days=1), now + dt.timedelta(days=days)
    alt_names = [x509.DNSName(name) for name in names] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0] if names else ips[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    paths = {name: directory / f"{name}.pem" for name in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Certificates(str(paths["ca"]), str(paths["cert"]), str(paths["key"]), not_after)


# --- DNS ------------------------------------------------------------------------------------------

ZONE = "test.example."
RECORDS = {
    ("www.test.example.", "A"): ["192.0.2.10", "192.0.2.11"],
    ("www.test.example.", "TXT"): ['"v=spf1 -all"', '"hello" " world"'],
    ("test.example.", "MX"): ["10 mail.test.example.", "20 backup.test.example."],
    ("alias.test.example.", "CNAME"): ["www.test.example."],
    ("_sip._tcp.test.example.", "SRV"): ["0 5 5060 sip.test.example."],
    ("mail.test.example.", "A"): ["192.0.2.25"],
}


class _DNSHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        owner = self.server.owner
        if owner.garbage:
            sock.sendto(os.urandom(owner.garbage), self.client_address)
            return
        if owner.silent:
            return
        try:
            query = dns.message.from_wire(data)
        except Exception:  # a server ignores what it can't parse
            return
        sock.sendto(owner.answer(query).to_wire(), self.client_address)


class _UDPServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    block_on_close = False


class DNSServer(_Threaded):
    """Answers the zone ``test.example`` from ``RECORDS`` (following a CNAME for A queries).
    ``garbage``: N random bytes instead of an answer; ``silent``: no answer at all."""

    def __init__(self, *, garbage=0, silent=False):
        self.garbage, self.silent = garbage, silent
        self.server = _UDPServer((HOST, 0), _DNSHandler)
        self.server.owner = self
        self.port = self.server.server_address[1]
        self.start()

    def answer(self, query):
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name, rdtype = question.name.to_text().lower(), dns.rdatatype.to_text(question.rdtype)
        known = {key[0] for key in RECORDS}
        if name not in known:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response
        while True:
            cname = RECORDS.get((name, "CNAME"))
            if cname and rdtype != "CNAME":
                response.answer.append(dns.rrset.from_text_list(name, 300, "IN", "CNAME", cname))
                name = cname[0]
                continue
            break
        values = RECORDS.get((name, rdtype))
        if values:
            response.answer.append(dns.rrset.from_text_list(name, 300, "IN", rdtype, values))
        return response


# --- Running a check ------------------------------------------------------------------------------


def run_check(kind, target, port=None, *, timeout=5.0, **params):
    """Validate a check like the form does (``monitoring.params.clean``) and run it once."""
    from monitoring import probes
    from monitoring.params import clean

    target, port, params = clean(kind, target, port, params)
    return probes.run_once(probes.CheckSpec(None, kind, target, port, params, timeout))
