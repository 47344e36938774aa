"""A real HTTP receiver for webhook tests: a ``ThreadingHTTPServer`` on 127.0.0.1 in a thread.

It records every request (path, headers, raw body), checks the ``X-ITOM-Signature-256`` header
itself (its own HMAC, not the portal's code) and answers the statuses it is told to, in order,
then ``default``:

    with Receiver(secret="s3cret", statuses=[500, 500]) as receiver:
        ... send to receiver.url ...
        assert [r.status for r in receiver.requests] == [500, 500, 200]
"""

import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: bytes
    status: int
    signature_ok: bool | None  # None: no secret to check against

    def json(self):
        return json.loads(self.body)


class Receiver:
    def __init__(self, secret=None, statuses=(), default=200, redirect_to=None):
        self.secret = secret
        self.statuses = deque(statuses)
        self.default = default
        self.redirect_to = redirect_to
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def _expected_signature(self, body):
        return "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()

    def _handle(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        with self._lock:
            status = self.statuses.popleft() if self.statuses else self.default
            signature = handler.headers.get("X-ITOM-Signature-256")
            ok = None if self.secret is None else hmac.compare_digest(self._expected_signature(body), signature or "")
            self.requests.append(
                Received(
                    handler.command, handler.path, {k.lower(): v for k, v in handler.headers.items()}, body, status, ok
                )
            )
        answer = json.dumps({"received": status < 300}).encode()
        handler.send_response(status)
        if 300 <= status < 400 and self.redirect_to:
            handler.send_header("Location", self.redirect_to)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(answer)))
        handler.end_headers()
        handler.wfile.write(answer)

    def __enter__(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                receiver._handle(self)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def wait_for(self, count, timeout=60):
        """Wait until ``count`` requests have arrived (for a worker in another process)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.1)
        raise AssertionError(f"the receiver got {len(self.requests)} request(s), not {count}, within {timeout} s")


def closed_port():
    """A local port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
