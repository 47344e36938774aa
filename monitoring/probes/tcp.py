"""TCP: connect to the port (to an address ``targets.resolve`` checked), optionally send a line
and wait for an expected string in the answer."""

import asyncio
import contextlib
import time

from monitoring import targets
from monitoring.choices import ResultStatus
from monitoring.probes.common import endpoint, ms, preview, reason

READ_MAX = 64 * 1024  # bytes of the answer searched for ``expect``


async def connect(host, port):
    """``(reader, writer, address)`` of a connection to the first of ``host``'s checked addresses
    that accepts one. Raises ``OSError`` (the last refusal) when none does."""
    addresses = await targets.resolve(host, port)
    error = None
    for address in addresses:
        try:
            reader, writer = await asyncio.open_connection(address, port)
            return reader, writer, address
        except OSError as exc:
            error = exc
    raise error


async def close(writer):
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 1)


async def read_until(reader, expected: bytes, limit=READ_MAX):
    """Read until ``expected`` is seen, the peer closes, or ``limit`` bytes came: ``(found, data)``."""
    data = bytearray()
    while len(data) < limit:
        chunk = await reader.read(min(4096, limit - len(data)))
        if not chunk:
            break
        data.extend(chunk)
        if expected in data:
            return True, bytes(data)
    return expected in data, bytes(data)


async def probe(spec):
    params = spec.params or {}
    where = endpoint(spec.target, spec.port)
    started = time.perf_counter()
    try:
        reader, writer, address = await connect(spec.target, spec.port)
    except targets.Unresolvable as exc:
        return ResultStatus.DOWN, None, str(exc)
    except OSError as exc:
        return ResultStatus.DOWN, None, f"Cannot connect to {where}: {reason(exc)}."
    try:
        connected = ms(started)
        send, expect = params.get("send") or "", params.get("expect") or ""
        if send:
            writer.write(send.encode())
            await writer.drain()
        if not expect:
            via = "" if targets.literal_ip(spec.target) else f" ({address})"
            return ResultStatus.UP, connected, f"Connected to {where}{via} in {connected:.0f} ms."
        found, data = await read_until(reader, expect.encode())
        latency = ms(started)
        if found:
            return ResultStatus.UP, latency, f"{where} answered with {expect!r} in {latency:.0f} ms."
        got = f"got {preview(data)}" if data else "got nothing before the connection closed"
        return ResultStatus.DOWN, latency, f"{where} did not answer with {expect!r}: {got}."
    except OSError as exc:
        return ResultStatus.DOWN, None, f"Connection to {where} failed: {reason(exc)}."
    finally:
        await close(writer)
