"""The hosts ``bench.poller`` polls: TCP and HTTP listeners on 127.0.0.1 that answer at once.

Run as its own process (``python -m bench.poller_listeners --tcp 20 --http 20``) so its CPU is
not the poller's: it binds the ports (free ones chosen by the kernel), prints one JSON line
``{"tcp": [ports…], "http": [ports…]}`` on stdout, then serves until SIGTERM or SIGINT, when it
prints ``{"served": {"tcp": n, "http": n}}`` and exits.

- TCP: accept the connection and close it when the client closes (the probe connects and
  hangs up);
- HTTP: read the request head and answer ``HTTP/1.1 200 OK`` with a small body and
  ``Connection: close``, then close.

Plain ``asyncio.Protocol`` (no streams) so one listener process serves thousands of connections
a second on a fraction of a core. Part of the benchmark, never of the test suite.
"""

import argparse
import asyncio
import json
import signal
import sys

BODY = b"OK bench\n"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\nConnection: close\r\n\r\n"
    + BODY
)
HEAD_MAX = 16 * 1024
served = {"tcp": 0, "http": 0}


class TCPListener(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        served["tcp"] += 1

    def data_received(self, data):
        pass  # whatever a probe sends is ignored

    def eof_received(self):
        self.transport.close()
        return False


class HTTPListener(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.head = bytearray()

    def data_received(self, data):
        if self.head is None:
            return
        self.head.extend(data)
        if b"\r\n\r\n" in self.head or len(self.head) > HEAD_MAX:
            self.head = None
            served["http"] += 1
            self.transport.write(RESPONSE)
            self.transport.close()

    def eof_received(self):
        self.transport.close()
        return False


async def serve(tcp_count, http_count, host):
    loop = asyncio.get_running_loop()
    servers = {"tcp": [], "http": []}
    for kind, count, factory in (("tcp", tcp_count, TCPListener), ("http", http_count, HTTPListener)):
        for _ in range(count):
            server = await loop.create_server(factory, host, 0, backlog=4096, reuse_address=True)
            servers[kind].append(server)
    ports = {kind: [s.sockets[0].getsockname()[1] for s in items] for kind, items in servers.items()}
    print(json.dumps(ports), flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for items in servers.values():
        for server in items:
            server.close()
    print(json.dumps({"served": served}), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tcp", type=int, default=20, help="TCP listeners")
    parser.add_argument("--http", type=int, default=20, help="HTTP listeners")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.tcp, args.http, args.host))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
