"""The API ceiling: how fast an authenticated, paginated API list answers next to a bare view.

What it measures
    Two targets on a real gunicorn server (``itom.wsgi``, 2 workers × 4 threads, as the Procfile
    and the Docker image run it) over loopback:

    - ``GET /livez``: a bare JSON view, no database: the most the server stack can answer;
    - ``GET /api/v1/teams/``: an authenticated (``Authorization: Token …``, read-only token of
      a ``viewer``), paginated (50 per page) list of 1,000 teams: the portal's API stack.

    Each round drives one target for a fixed time with 16 concurrent requests from a separate
    process (httpx, asyncio), after a short warm-up. Rounds alternate between the targets and the
    figures reported are medians over rounds: requests/s, p50 and p95 latency, and the ratio
    teams req/s ÷ livez req/s computed within each pair of rounds. The ratio is the figure later
    apps' list endpoints are held to; absolute numbers depend on the (shared, noisy) machine.
    The load generator's own CPU use is shown too: near 100% means the client, not the server,
    set the pace (on a 2-core machine client and server share the CPUs).

How to run
    From the project root, alone on the machine (nothing else heavy running)::

        .venv/bin/python -m bench.api_ceiling        # or: make bench-api

    It needs PostgreSQL (user ``postgres``, trust auth) and Redis on 127.0.0.1. It creates the
    database ``itom_bench`` (dropped and recreated at start, dropped at the end) and uses Redis
    db 14. It takes about two minutes. It is never part of the test suite.
"""

import asyncio
import multiprocessing
import os
import queue
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg2
from psycopg2 import sql

ROOT = Path(__file__).resolve().parent.parent
DB_HOST, DB_PORT, DB_USER, DB_NAME = "127.0.0.1", 5432, "postgres", "itom_bench"
BROKER_URL = "redis://127.0.0.1:6379/14"

TEAM_COUNT = 1000
PAGE_SIZE = 50
USERNAME = "bench.viewer"
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 4  # as the Procfile and the Docker image run it: gthread workers keep connections alive

ROUNDS = 5  # per target, alternating livez / teams
CONCURRENCY = 16
WARMUP_SECONDS = 1.0
MEASURE_SECONDS = 5.0
REQUEST_TIMEOUT = 10.0  # seconds, per request
ROUND_HARD_LIMIT = WARMUP_SECONDS + MEASURE_SECONDS + 2 * REQUEST_TIMEOUT + 10  # then the load process is killed
STARTUP_TIMEOUT = 30.0

SETUP_SNIPPET = f"""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from accounts.models import Team
from itom.context import acting_as

Team.objects.bulk_create(
    Team(name=f"Team {{i:04d}}", email=f"team{{i:04d}}@example.com", description="Benchmark team.")
    for i in range({TEAM_COUNT})
)
with acting_as(label="bench:setup"):
    user = get_user_model()._default_manager.create_user("{USERNAME}")
    user.groups.add(Group.objects.get(name="viewer"))
print(Team.objects.count())
"""


# --- Database ---------------------------------------------------------------------------------


def _admin_execute(statement):
    """Run one statement on the server's ``postgres`` database (outside a transaction)."""
    conn = psycopg2.connect(host=DB_HOST, port=DB_PORT, user=DB_USER, dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL(statement).format(sql.Identifier(DB_NAME)))
    finally:
        conn.close()


def drop_database():
    _admin_execute("DROP DATABASE IF EXISTS {} WITH (FORCE)")


def create_database():
    drop_database()
    _admin_execute("CREATE DATABASE {}")


# --- Project setup ----------------------------------------------------------------------------


def server_environment(var_dir):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "SECRET_KEY"))}
    env.update(
        DATABASE_URL=f"postgres://{DB_USER}@{DB_HOST}:{DB_PORT}/{DB_NAME}",
        CELERY_BROKER_URL=BROKER_URL,
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1",
        ITOM_VAR_DIR=str(var_dir),
    )
    return env


def manage(env, *args):
    """Run ``manage.py ARGS``; returns its stdout, or raises with its output when it fails."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def collect_static(env):
    """``collectstatic``, as a deployment runs it. Neither target serves a static file or renders
    a template, so a failure here is reported (it would break a real deployment) but not fatal."""
    try:
        manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    except RuntimeError as exc:
        reason = next((line for line in reversed(str(exc).splitlines()) if "Error" in line), str(exc))
        print(f"WARNING: collectstatic failed, measuring anyway: {reason}", file=sys.stderr, flush=True)


def prepare_project(env):
    """Migrate, collect static files, seed the teams and the viewer; returns an API token key."""
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    collect_static(env)
    seeded = manage(env, "shell", "-c", SETUP_SNIPPET).split()[-1]
    if int(seeded) != TEAM_COUNT:
        raise RuntimeError(f"expected {TEAM_COUNT} teams after setup, found {seeded}")
    return manage(env, "create_api_token", USERNAME, "--read-only").strip().splitlines()[-1]


# --- Server -----------------------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env, port, log_file):
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "itom.wsgi", "--bind", f"127.0.0.1:{port}"]
        + ["--workers", str(GUNICORN_WORKERS), "--threads", str(GUNICORN_THREADS)],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )


def wait_until_live(base_url, server):
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with code {server.returncode} during start-up")
        with suppress(httpx.TransportError):  # not listening yet
            if httpx.get(f"{base_url}/livez", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /livez within {STARTUP_TIMEOUT:.0f}s")


def stop_process(process, grace=10):
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def check_targets(base_url, headers):
    """Both targets answer 200, and the list holds every team, one page of them at a time."""
    livez = httpx.get(f"{base_url}/livez", timeout=REQUEST_TIMEOUT)
    assert livez.status_code == 200 and livez.json() == {"status": "ok"}, livez.text
    teams = httpx.get(f"{base_url}/api/v1/teams/", headers=headers, timeout=REQUEST_TIMEOUT)
    assert teams.status_code == 200, f"/api/v1/teams/ answered {teams.status_code}: {teams.text[:300]}"
    body = teams.json()
    assert body["count"] == TEAM_COUNT, f"count is {body['count']}, expected {TEAM_COUNT}"
    assert len(body["results"]) == PAGE_SIZE, f"page holds {len(body['results'])} teams, expected {PAGE_SIZE}"


# --- Load generator (runs in its own process) -------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    headers: dict


@dataclass(frozen=True)
class RoundResult:
    target: str
    requests: int
    seconds: float
    latencies_ms: list
    failures: dict  # status code or error name -> count
    client_cpu_seconds: float

    @property
    def rate(self):
        return self.requests / self.seconds

    def percentile(self, pct):
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


async def _drive(client, url, headers, deadline, latencies, failures):
    """One of the concurrent callers: request after request until the deadline."""
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            response = await client.get(url, headers=headers)
            await response.aread()
        except httpx.HTTPError as exc:
            failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
            continue
        if response.status_code == 200:
            latencies.append((time.perf_counter() - started) * 1000)
        else:
            failures[response.status_code] = failures.get(response.status_code, 0) + 1


async def _phase(client, url, headers, seconds):
    latencies, failures = [], {}
    started = time.perf_counter()
    deadline = started + seconds
    callers = [_drive(client, url, headers, deadline, latencies, failures) for _ in range(CONCURRENCY)]
    await asyncio.gather(*callers)
    return latencies, failures, time.perf_counter() - started


async def _run_round(base_url, target):
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=REQUEST_TIMEOUT) as client:
        _, warmup_failures, _ = await _phase(client, target.path, target.headers, WARMUP_SECONDS)
        cpu_before = time.process_time()
        latencies, failures, elapsed = await _phase(client, target.path, target.headers, MEASURE_SECONDS)
        cpu = time.process_time() - cpu_before
    for key, count in warmup_failures.items():
        failures[key] = failures.get(key, 0) + count
    return RoundResult(target.name, len(latencies), elapsed, latencies, failures, cpu)


def _load_process(base_url, target, results):
    results.put(asyncio.run(_run_round(base_url, target)))


def _await_result(process, results):
    deadline = time.monotonic() + ROUND_HARD_LIMIT
    while time.monotonic() < deadline:
        try:
            return results.get(timeout=0.5)
        except queue.Empty:
            if not process.is_alive():
                try:
                    return results.get(timeout=1)
                except queue.Empty:
                    raise RuntimeError(f"the load process died (exit code {process.exitcode})") from None
    raise RuntimeError(f"the load process overran its {ROUND_HARD_LIMIT:.0f}s limit")


def run_round(base_url, target):
    """Drive ``target`` from a separate process; killed if it overruns its hard time limit."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_load_process, args=(base_url, target, results), daemon=True)
    process.start()
    try:
        result = _await_result(process, results)
    finally:
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join()
    if result.failures:
        raise RuntimeError(f"{target.name}: responses other than 200: {result.failures}")
    return result


# --- Report -----------------------------------------------------------------------------------


def run_rounds(base_url, targets):
    """Alternate the targets for ROUNDS rounds; returns ``{target name: [RoundResult, …]}``."""
    results = {target.name: [] for target in targets}
    for number in range(1, ROUNDS + 1):
        for target in targets:
            result = run_round(base_url, target)
            results[target.name].append(result)
            print(
                f"  round {number}/{ROUNDS} {target.name:<6} {result.rate:8.1f} req/s  "
                f"p50 {result.percentile(50):6.1f} ms  p95 {result.percentile(95):6.1f} ms  "
                f"(client CPU {100 * result.client_cpu_seconds / result.seconds:.0f}%)",
                flush=True,
            )
    return results


def print_report(results, base_name="livez", list_name="teams"):
    print()
    print(f"Medians over {ROUNDS} rounds ({CONCURRENCY} concurrent, {MEASURE_SECONDS:.0f}s per round):")
    print(f"  {'target':<28} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'client CPU':>11}")
    paths = {base_name: "GET /livez", list_name: "GET /api/v1/teams/ (50/page)"}
    for name, rounds in results.items():
        rate = statistics.median(r.rate for r in rounds)
        p50 = statistics.median(r.percentile(50) for r in rounds)
        p95 = statistics.median(r.percentile(95) for r in rounds)
        cpu = statistics.median(100 * r.client_cpu_seconds / r.seconds for r in rounds)
        print(f"  {paths.get(name, name):<28} {rate:8.1f} {p50:8.1f} {p95:8.1f} {cpu:10.0f}%")
    ratios = [t.rate / b.rate for b, t in zip(results[base_name], results[list_name], strict=True)]
    print()
    print(f"  ratio {list_name} ÷ {base_name} req/s per round: {', '.join(f'{r:.3f}' for r in ratios)}")
    print(f"  median ratio: {statistics.median(ratios):.3f}")


def main():
    started = time.monotonic()
    server = None
    with tempfile.TemporaryDirectory(prefix="itom-bench-") as var_dir:
        env = server_environment(var_dir)
        log_path = Path(var_dir) / "gunicorn.log"
        try:
            print(f"Setting up database {DB_NAME} with {TEAM_COUNT} teams …", flush=True)
            create_database()
            key = prepare_project(env)
            base_url = f"http://127.0.0.1:{free_port()}"
            with log_path.open("w") as log_file:
                server = start_server(env, base_url.rsplit(":", 1)[1], log_file)
                wait_until_live(base_url, server)
                headers = {"Authorization": f"Token {key}"}
                check_targets(base_url, headers)
                print(
                    f"Server up at {base_url} (gunicorn, {GUNICORN_WORKERS} workers × {GUNICORN_THREADS} threads); "
                    "measuring …",
                    flush=True,
                )
                targets = [Target("livez", "/livez", {}), Target("teams", "/api/v1/teams/", headers)]
                results = run_rounds(base_url, targets)
            print_report(results)
        except BaseException:
            if log_path.exists():
                print(f"--- gunicorn log (last lines) ---\n{log_path.read_text()[-3000:]}", file=sys.stderr)
            raise
        finally:
            stop_process(server)
            drop_database()
    print(f"\nDone in {time.monotonic() - started:.0f}s.")


if __name__ == "__main__":
    main()
