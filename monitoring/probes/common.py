"""Small helpers the probes share: latency, how to name an endpoint, errors and remote bytes as
an operator reads them."""

import ssl
import time


def ms(since):
    """Milliseconds since ``since`` (a ``time.perf_counter()`` reading)."""
    return round((time.perf_counter() - since) * 1000, 3)


def endpoint(host, port):
    host = str(host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def reason(exc):
    """Why a connection failed, in a few words."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate not valid: {exc.verify_message or exc.reason or exc}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text[0].lower() + text[1:] if text else type(exc).__name__


def preview(data: bytes, limit=80):
    """The start of what a remote sent, printable and quoted."""
    text = repr(data[:limit].decode("utf-8", errors="replace"))
    return text + ("…" if len(data) > limit else "")
