"""HTTP(S): a request, its status against the expected ones, a keyword present or absent in the
body, a latency warning threshold, and redirects followed by hand (at most ``max_redirects``),
every hop resolved and checked (``targets.resolve``) before connecting.

The request goes to the checked address; the name travels in the ``Host`` header and as the TLS
server name (``sni_hostname``), so certificates are verified for the name. Bodies are read up to
``BODY_MAX`` bytes (after decompression), so a huge or endless answer costs little."""

import functools
import re
import time
import zlib

import httpx

from monitoring import targets
from monitoring.choices import ResultStatus
from monitoring.params import DEFAULT_EXPECTED_STATUS, status_ranges
from monitoring.probes.common import ms

BODY_MAX = 1024 * 1024
# A backstop only: a run's own timeout (``asyncio.timeout`` in ``probes.run``) ends it sooner.
CLIENT_TIMEOUT = 120
USER_AGENT = "ITOM-Portal-Monitoring/1.0"


_SSL_SOURCE = re.compile(r"\s*\(_ssl\.c:\d+\)")


class Failed(Exception):
    """A request that got no usable answer: the message says why."""


@functools.cache
def verified_context():
    """The TLS context of verified requests, made once per process: building one loads the CA
    bundle, which cost ~8 % of a poller's CPU when every batch did it (bench/poller.py)."""
    return httpx.create_ssl_context()


def new_client(verify=True, max_connections=100):
    """A client that follows no redirects (``follow`` does, checking each hop), reads no proxy
    settings from the environment, and keeps no idle connection (a pooled connection to an
    address would be reused for another name on the same address, skipping its TLS check)."""
    return httpx.AsyncClient(
        verify=verified_context() if verify is True else verify,
        trust_env=False,
        follow_redirects=False,
        timeout=CLIENT_TIMEOUT,
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=0),
    )


def _decoder(encoding):
    if encoding in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(wbits=47 if encoding != "deflate" else zlib.MAX_WBITS)
    return None


async def read_body(response, limit=BODY_MAX):
    """At most ``limit`` bytes of the body (gzip/deflate decoded, bounded at every step)."""
    decoder = _decoder(response.headers.get("content-encoding", "").strip().lower())
    data = bytearray()
    async for chunk in response.aiter_raw():
        if decoder is not None:
            try:
                chunk = decoder.decompress(chunk, limit - len(data))
            except zlib.error:
                decoder = None
        data.extend(chunk[: limit - len(data)])
        if len(data) >= limit:
            break
    return bytes(data)


async def fetch(client, method, url, headers, content, *, follow):
    """``(response, body)`` for one request to ``url``, sent to an address that was checked.
    The body is read (capped) unless the answer is a redirect that will be followed."""
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise Failed(f"Not an http(s) URL: {url}")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = await targets.resolve(parsed.host, port)
    sent = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate", **headers}
    sent.setdefault("Host", parsed.netloc.decode("ascii").rpartition("@")[2])
    extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
    error = None
    for address in addresses:
        request = client.build_request(
            method, parsed.copy_with(host=address), headers=sent, content=content, extensions=extensions
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.ConnectError as exc:
            error = exc
            continue
        try:
            skip = method == "HEAD" or (follow and response.is_redirect)
            body = None if skip else await read_body(response)
        finally:
            await response.aclose()
        return response, body
    raise Failed(f"Cannot connect to {url}: {_SSL_SOURCE.sub('', str(error)) or type(error).__name__}")


def next_method(status, method):
    if status == 303 or (status in (301, 302) and method == "POST"):
        return "GET"
    return method


def problem_with_body(body, keyword, absent, encoding):
    if not keyword or body is None:
        return None
    text = body.decode(encoding or "utf-8", errors="replace")
    found = keyword in text
    if absent and found:
        return f"the keyword {keyword!r} is in the response"
    if not absent and not found:
        within = f" (first {BODY_MAX // 1024} kB)" if len(body) >= BODY_MAX else ""
        return f"the keyword {keyword!r} is not in the response{within}"
    return None


async def follow(client, spec, params):
    """``(response, body, url, hops)`` of the last answer, following at most ``max_redirects``
    redirects. Raises ``Failed`` for too many redirects or a loop, ``TargetRefused`` for a hop that
    may not be reached."""
    method = params.get("method", "GET")
    headers = dict(params.get("headers") or {})
    content = (params.get("body") or "").encode() or None
    max_redirects = int(params.get("max_redirects", 5))
    url, hops, seen = spec.target, 0, {spec.target}
    while True:
        try:
            response, body = await fetch(client, method, url, headers, content, follow=max_redirects > 0)
        except targets.TargetRefused as exc:
            if hops:
                raise targets.TargetRefused(f"redirected to {url}: {exc}") from None
            raise
        if not (response.is_redirect and max_redirects > 0):
            return response, body, url, hops
        location = str(httpx.URL(url).join(response.headers["location"]))
        if hops >= max_redirects:
            raise Failed(f"More than {max_redirects} redirects from {spec.target} (the last to {location}).")
        if location in seen:
            raise Failed(f"Redirect loop: {url} redirects to {location}, seen before.")
        seen.add(location)
        hops, url = hops + 1, location
        method = next_method(response.status_code, method)
        if method in ("GET", "HEAD"):
            content = None


async def probe(spec, *, client=None):
    params = spec.params or {}
    expected = params.get("expected_status") or DEFAULT_EXPECTED_STATUS
    ranges = status_ranges(expected)
    verify = params.get("verify_tls", True)
    own = None
    if client is None or not verify:
        client = own = new_client(verify=verify, max_connections=2)
    started = time.perf_counter()
    url = spec.target
    try:
        response, body, url, hops = await follow(client, spec, params)
    except (Failed, targets.Unresolvable) as exc:
        return ResultStatus.DOWN, None, str(exc)
    except httpx.HTTPError as exc:
        return ResultStatus.DOWN, None, f"Invalid or broken answer from {url}: {describe_http_error(exc)}"
    finally:
        if own is not None:
            await own.aclose()
    latency = ms(started)
    status = response.status_code
    after = f" after {hops} redirect{'s' if hops != 1 else ''}" if hops else ""
    head = f"HTTP {status} from {url}{after}"
    if not any(low <= status <= high for low, high in ranges):
        expected_text = ", ".join(str(value) for value in expected)
        return ResultStatus.DOWN, latency, f"{head} (expected {expected_text}), {latency:.0f} ms."
    problem = problem_with_body(body, params.get("keyword"), params.get("keyword_absent", False), response.encoding)
    if problem:
        return ResultStatus.DOWN, latency, f"{head}, but {problem}, {latency:.0f} ms."
    threshold = params.get("latency_warning_ms")
    if threshold and latency > threshold:
        return (
            ResultStatus.WARNING,
            latency,
            f"{head} in {latency:.0f} ms, over the warning threshold of {threshold} ms.",
        )
    return ResultStatus.UP, latency, f"{head}, {latency:.0f} ms."


def describe_http_error(exc):
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
