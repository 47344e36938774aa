"""The poller's probes: one run of one check, over the network, with asyncio.

``CheckSpec`` is what a run needs (a plain, picklable copy of a check's settings); ``run(spec)``
returns an ``Outcome`` and never raises: a timeout is ``down`` ("timed out after Ns"), anything
unexpected is ``unknown`` with the reason. ``run_many(specs, concurrency=…)`` runs a batch: each
spec waits for its ``due_at`` (so a batch's checks start spread over the dispatch window, not all
at once), at most ``concurrency`` at a time, sharing one ``httpx.AsyncClient``. ``run_once`` is the
synchronous "test now".

Every kind connects only to addresses ``monitoring.targets.resolve`` checked (cloud metadata
addresses are refused at connect time as well as when the check is saved). Heartbeats are pushed
to the portal: the engine evaluates their silence, no probe runs for them.
"""

import asyncio
import concurrent.futures
import time
from dataclasses import dataclass, field

import httpx

from monitoring.choices import CheckKind, ResultStatus
from monitoring.targets import TargetRefused, Unresolvable

MESSAGE_MAX = 500
# A spec due later than this is started after this long anyway (a batch never waits for long).
MAX_WAIT = 60.0
USER_AGENT = "ITOM-Portal-Monitoring/1.0"


@dataclass(frozen=True)
class CheckSpec:
    """One check as a probe runs it. ``due_at`` (epoch seconds) is when the run should start."""

    id: int | None
    kind: str
    target: str
    port: int | None = None
    params: dict = field(default_factory=dict)
    timeout: float = 10.0
    due_at: float | None = None

    @classmethod
    def of(cls, check, due_at=None):
        """The spec of a ``Check`` row; ``due_at`` defaults to its ``next_due_at``."""
        if due_at is None and check.next_due_at is not None:
            due_at = check.next_due_at.timestamp()
        elif hasattr(due_at, "timestamp"):
            due_at = due_at.timestamp()
        return cls(
            id=check.pk,
            kind=check.kind,
            target=check.target or "",
            port=check.port,
            params=dict(check.params or {}),
            timeout=float(check.timeout),
            due_at=due_at,
        )


@dataclass
class Outcome:
    """What one run found: a ``ResultStatus`` value, the latency (ms) when there was one, a
    message for the operator (at most 500 characters) and when the run started (epoch seconds)."""

    status: str
    latency_ms: float | None = None
    message: str = ""
    started_at: float = 0.0

    def __post_init__(self):
        self.status = str(self.status)
        self.message = clip(self.message)


def clip(text, limit=MESSAGE_MAX):
    """``text`` as one plain line of at most ``limit`` characters."""
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(exc):
    """An exception as an operator reads it: its class and message."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _prober(kind):
    from monitoring.probes import dns, http, icmp, tcp, tls

    return {
        CheckKind.ICMP: icmp.probe,
        CheckKind.TCP: tcp.probe,
        CheckKind.HTTP: http.probe,
        CheckKind.TLS: tls.probe,
        CheckKind.DNS: dns.probe,
    }.get(kind)


def _seconds(value):
    return f"{value:g}s"


async def run(spec: CheckSpec, *, http_client: httpx.AsyncClient | None = None) -> Outcome:
    """Run ``spec`` once. Never raises."""
    started = time.time()
    try:
        probe = _prober(spec.kind)
        if probe is None:
            return Outcome(ResultStatus.UNKNOWN, None, f"Not a polled check kind: {spec.kind!r}.", started)
        try:
            async with asyncio.timeout(spec.timeout):
                if spec.kind == CheckKind.HTTP:
                    status, latency, message = await probe(spec, client=http_client)
                else:
                    status, latency, message = await probe(spec)
        except TimeoutError:
            return Outcome(ResultStatus.DOWN, None, f"Timed out after {_seconds(spec.timeout)}.", started)
        return Outcome(str(status), latency, message, started)
    except TargetRefused as exc:
        return Outcome(ResultStatus.UNKNOWN, None, f"Refused: {exc}", started)
    except Unresolvable as exc:
        return Outcome(ResultStatus.DOWN, None, str(exc), started)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a probe must never take the batch down
        return Outcome(ResultStatus.UNKNOWN, None, f"The check failed to run: {describe(exc)}", started)


def new_client(concurrency=100) -> httpx.AsyncClient:
    """The HTTP client a batch shares (see ``probes.http.new_client``)."""
    from monitoring.probes import http

    return http.new_client(max_connections=max(int(concurrency), 10))


async def run_many(specs, *, concurrency: int) -> list[Outcome]:
    """Run ``specs`` (a list), at most ``concurrency`` at once, each not before its ``due_at``.
    Outcomes come back in the order of ``specs``."""
    specs = list(specs)
    semaphore = asyncio.Semaphore(max(1, int(concurrency)))

    async def one(spec, client):
        if spec.due_at is not None:
            delay = min(spec.due_at - time.time(), MAX_WAIT)
            if delay > 0:
                await asyncio.sleep(delay)
        async with semaphore:
            return await run(spec, http_client=client)

    async with new_client(concurrency) as client:
        return list(await asyncio.gather(*(one(spec, client) for spec in specs)))


def run_once(spec: CheckSpec) -> Outcome:
    """Run ``spec`` now (ignoring ``due_at``), synchronously: the "test now" of the form and API."""
    if spec.due_at is not None:
        spec = CheckSpec(spec.id, spec.kind, spec.target, spec.port, spec.params, spec.timeout, None)
    return run_sync(_run_alone(spec))


def run_sync(coroutine):
    """Run ``coroutine`` to its end from synchronous code: with ``asyncio.run``, or — called from a
    thread that runs an event loop already (a greenlet-driven one, say) — in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _run_alone(spec):
    async with new_client(1) as client:
        return await run(spec, http_client=client)


__all__ = ["CheckSpec", "Outcome", "run", "run_many", "run_once", "run_sync"]
