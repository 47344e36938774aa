"""The monitoring poller end to end on one machine, and an Alertmanager alert storm (PostgreSQL,
Redis, real Celery worker and beat).

What it measures
    A separate process (``bench.poller_listeners``) serves TCP_PORTS TCP and HTTP_PORTS HTTP
    listeners on 127.0.0.1 that answer at once (HTTP: ``200 OK`` and a 9-byte body). CHECKS checks
    (half TCP connects, half HTTP GETs, spread over the listeners; one CI per CHECKS_PER_CI
    checks) run every INTERVAL seconds, their first due times spread evenly over the first
    interval. A real ``celery -A itom worker -Q poll.default,default`` (prefork, WORKER_CONCURRENCY
    processes) and a real ``celery beat`` with the database scheduler (the project's schedule, with
    ``MONITORING_DISPATCH_SECONDS=1``: ``dispatch_checks`` every second) run them through
    ``monitoring.services.engine`` against PostgreSQL and Redis — everything on this machine.

    After a warm-up (WARMUP_S: every check has run once), over a measurement window (WINDOW_S):

    - checks run per minute (results whose start falls in the window, per minute and overall)
      and the *backlog*: enabled checks overdue by more than one dispatch period, sampled every
      few seconds and at the end of the window (must stay ~0: otherwise the rate is not
      sustained);
    - CPU time per check: utime + stime (``/proc``) of the worker's process tree, beat's, and the
      PostgreSQL backends of the benchmark's database, over the window, ÷ checks run (the
      listeners', Redis' and PostgreSQL's shared background processes are shown apart);
    - scheduling lag (``CheckResult.lag_ms``: start after the due time): p50, p95, p99, max;
    - rows written per minute: results inserted and check rows updated (``pg_stat_user_tables``;
      a check row is updated when it is claimed and when its result is recorded);
    - the ceiling: ``monitoring.probes.run_many`` in this process on CEILING_CHECKS of the same
      specs, against the same listeners, in batches of ``MONITORING_BATCH_SIZE`` at
      ``MONITORING_CONCURRENCY`` (as a batch task runs them) but with no database and no
      waiting for due times: CEILING_ROUNDS rounds after a warm-up round, median checks/min and
      CPU ms per check; then end to end ÷ ceiling. The worker and beat are stopped first, so
      nothing competes with it.

    Note that the end-to-end rate can't exceed the offered load (CHECKS per INTERVAL): "no
    backlog" says the machine kept up with it; the CPU per check says how far it could go.

    Then the alert storm: STORM_ALERTS Alertmanager (webhook version 4) alerts over
    STORM_FINGERPRINTS fingerprints, in notifications of STORM_GROUP alerts (one alert group
    each, as Alertmanager sends them: every group sent once, then again STORM_ALERTS ÷
    STORM_FINGERPRINTS − 1 times as still firing), POSTed to
    ``/api/v1/monitoring/ingest/alertmanager/`` with an integration's token through Django's test
    client in-process (no HTTP server: the figure is the ingest's Python and database cost). It
    asserts exactly STORM_FINGERPRINTS incidents and firing alerts, STORM_ALERTS occurrences,
    and prints alerts/s per notification (median of the first pass, which opens the incidents,
    and of the repeats) and overall.

How to run
    From the project root, alone on the machine (it takes about WARMUP_S + WINDOW_S + 2 minutes)::

        .venv/bin/python -m bench.poller                      # or: make bench-poller
        .venv/bin/python -m bench.poller --checks 48000 --window 300
        .venv/bin/python -m bench.poller --no-storm           # the poller only
        .venv/bin/python -m bench.poller --storm-only         # the alert storm only
        .venv/bin/python -m bench.poller --no-storm --warmup 180 --stall 10   # recovery from a hiccup

    It uses ``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/itom_bench_poller``,
    created when missing, then migrated) and Redis db 12 (``--broker``), which it flushes. The
    benchmark's checks, CIs, alerts and incidents are deleted at the start of each run (it
    refuses a database holding CIs or checks that aren't its own) and left in place at the end
    for inspection. The worker's and beat's logs are written to ``var/bench_poller/<database>/``.
    ``--stall SECONDS`` freezes the worker (SIGSTOP/SIGCONT) a third into the warm-up, to see
    whether the poller settles again before the window. ``--profile SECONDS`` records a py-spy
    profile of the worker's processes during the window (``pip install py-spy`` into the venv
    first; a profiled run's figures are not the reference ones). Never part of the test suite.
"""

import argparse
import asyncio
import dataclasses
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict

from bench.common import ROOT, column_defaults, configure_django, copy_rows, ensure_database

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/itom_bench_poller"
BROKER_URL = "redis://127.0.0.1:6379/12"
CHECKS = 36_000
INTERVAL = 60
CHECKS_PER_CI = 100
TCP_PORTS = 20
HTTP_PORTS = 20
WARMUP_S = 60
WINDOW_S = 180
DISPATCH_SECONDS = 1
# Prefork, 3 processes on 2 cores: a batch is CPU-bound Python (probes, then the ORM) once its
# checks are due, but it first waits for its checks' due times (up to a dispatch period), and the
# dispatch task shares the worker; one process per core would leave a core idle while a batch
# waits. Threads would put every batch under one GIL.
WORKER_CONCURRENCY = 3
CEILING_ROUNDS = 5
CEILING_CHECKS = 6_000
STORM_ALERTS = 10_000
STORM_FINGERPRINTS = 1_000
STORM_GROUP = 50
STORM_CIS = 360  # --storm-only: the CIs the alerts name
GOAL_RATE = 30_000
GOAL_LAG_P99_MS = 2_000
SAMPLE_S = 1.0
PROGRESS_S = 15
PREFIX = "bench-poller"
LOG_DIR = ROOT / "var" / "bench_poller"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def say(text=""):
    print(text, flush=True)


# --- Processes ------------------------------------------------------------------------------------


class Child:
    """A child process whose output goes to a log file."""

    def __init__(self, name, args, env, log_dir):
        self.name = name
        self.args = args
        self.log_path = log_dir / f"{name}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 — closed in stop()
        self.popen = subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self):
        return self.popen.pid

    def output(self):
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.output()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}: {text!r} did not appear in {timeout} s:\n{self.output()[-3000:]}")

    def stop(self, timeout=30):
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)  # its own session: the prefork children too
                self.popen.wait(5)
        self.log.close()


class Listeners:
    """``bench.poller_listeners`` in its own process; ``ports`` once it is serving."""

    def __init__(self, tcp, http):
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "bench.poller_listeners", "--tcp", str(tcp), "--http", str(http)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        line = self.popen.stdout.readline()
        if not line:
            raise RuntimeError(f"the listeners exited with {self.popen.wait()}")
        self.ports = json.loads(line)
        self.served = None

    @property
    def pid(self):
        return self.popen.pid

    def stop(self):
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                out, _ = self.popen.communicate(timeout=10)
                for line in out.splitlines():
                    if line.startswith("{"):
                        self.served = json.loads(line).get("served")
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


# --- CPU accounting from /proc ------------------------------------------------------------------------


def read_stats():
    """``{pid: (ppid, utime + stime, cutime + cstime)}`` of every process, in clock ticks."""
    stats = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rindex(b")") + 2 :].split()
        stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14]))
    return stats


def descendants(stats, root):
    children = defaultdict(list)
    for pid, (ppid, *_) in stats.items():
        children[ppid].append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in found:
            found.add(pid)
            todo.extend(children[pid])
    return found


def machine_ticks():
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values[:8]), idle


PG_MINE = "postgres (benchmark database)"
PG_BACKGROUND = "postgres (shared background)"
REDIS = "redis-server (shared)"


class CPUSampler(threading.Thread):
    """CPU time (utime + stime, from ``/proc``) of the processes around the poller.

    Process trees by root pid (worker, beat, listeners) are read every SAMPLE_S and each process
    keeps its last reading after it ends (prefork children live as long as the worker), so at
    most one period of a departed process is lost.

    PostgreSQL backends are short-lived (Celery closes the task's database connection after
    every task, see docs/benchmarks.md), so they are accounted at the two marks instead: the
    delta of the benchmark database's backends alive at the end, plus what the postmaster
    reaped in between (its ``cutime + cstime``) less what those reaped children had used before
    the first mark. Backends of other databases that end in the window would be counted too: the
    transactions other databases committed in the window are reported so a reader can tell."""

    def __init__(self, database_url, database):
        super().__init__(daemon=True)
        import psycopg2

        self.conn = psycopg2.connect(database_url.rsplit("/", 1)[0] + "/postgres")
        self.conn.autocommit = True
        self.database = database
        self.trees = {}  # group -> root pid
        self.seen = defaultdict(dict)  # group -> {pid: ticks}
        self.marks = {}
        self.exclude = set()  # the benchmark's own backends
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            self.exclude.add(cur.fetchone()[0])
            cur.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname IS NULL AND backend_type IN "
                "('checkpointer', 'background writer', 'walwriter', 'autovacuum launcher')"
            )
            self.pg_background = [row[0] for row in cur.fetchall()]
        stats = read_stats()
        self.postmaster = stats[self.pg_background[0]][0] if self.pg_background else None
        self.redis_pids = [pid for pid in stats if _comm(pid).startswith("redis-server")]

    def track(self, group, root_pid):
        with self.lock:
            self.trees[group] = root_pid

    def sample(self, stats=None):
        stats = stats or read_stats()
        groups = {PG_BACKGROUND: set(self.pg_background), REDIS: set(self.redis_pids)}
        with self.lock:
            for group, root in self.trees.items():
                groups[group] = descendants(stats, root)
            for group, pids in groups.items():
                seen = self.seen[group]
                for pid in pids:
                    if pid in stats:
                        seen[pid] = stats[pid][1]
        return stats

    def run(self):
        while not self.stopping.wait(SAMPLE_S):
            try:
                self.sample()
            except Exception as exc:  # a failed sample is retried next period
                say(f"  (CPU sample failed: {exc})")

    def mark(self, name):
        with self.conn.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database])
            mine = {row[0] for row in cur.fetchall()} - self.exclude
            cur.execute("SELECT datname, xact_commit + xact_rollback FROM pg_stat_database WHERE datname IS NOT NULL")
            transactions = dict(cur.fetchall())
        stats = self.sample()
        children = descendants(stats, self.postmaster) - {self.postmaster} if self.postmaster else set()
        with self.lock:
            self.marks[name] = {
                "seen": {g: dict(s) for g, s in self.seen.items()},
                "machine": machine_ticks(),
                "time": time.monotonic(),
                "pg_children": {pid: stats[pid][1] for pid in children},
                "pg_mine": mine,
                "reaped": stats[self.postmaster][2] if self.postmaster else 0,
                "transactions": transactions,
            }

    def between(self, start, end):
        """``({group: cpu seconds}, machine busy fraction, wall seconds, {other database:
        transactions})``."""
        first, last = self.marks[start], self.marks[end]
        used = {}
        for group, readings in last["seen"].items():
            before = first["seen"].get(group, {})
            used[group] = sum(ticks - before.get(pid, 0) for pid, ticks in readings.items()) / CLK_TCK
        before, after = first["pg_children"], last["pg_children"]
        live = sum(after[pid] - before.get(pid, 0) for pid in last["pg_mine"] if pid in after)
        gone_before = sum(ticks for pid, ticks in before.items() if pid not in after)
        reaped = last["reaped"] - first["reaped"] - gone_before
        used[PG_MINE] = (live + max(0, reaped)) / CLK_TCK
        (total0, idle0), (total1, idle1) = first["machine"], last["machine"]
        busy = 1 - (idle1 - idle0) / max(1, total1 - total0)
        others = {
            name: count - first["transactions"].get(name, 0)
            for name, count in last["transactions"].items()
            if name not in (self.database, "postgres") and count - first["transactions"].get(name, 0) > 0
        }
        return used, busy, last["time"] - first["time"], others

    def stop(self):
        self.stopping.set()
        if self.is_alive():
            self.join(5)
        self.conn.close()


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


# --- Data -----------------------------------------------------------------------------------------


def refuse_foreign_data():
    from cmdb.models import CI
    from monitoring.models import Check

    if CI.objects.exclude(name__startswith=PREFIX).exists() or Check.objects.exclude(name__startswith=PREFIX).exists():
        raise SystemExit("This database holds CIs or checks that aren't the benchmark's: give another DATABASE_URL.")


def wipe():
    """Remove what an earlier run left: checks and their results, alerts, incidents, CIs."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE monitoring_checkresult, monitoring_checkrollup, monitoring_alert, monitoring_check, "
            "monitoring_ingestwindow, monitoring_integration, incidents_incident, incidents_timelineentry, "
            "slas_slaclock, slas_slaclockevent, itom_notification, itom_webhookdelivery, cmdb_ci "
            "RESTART IDENTITY CASCADE"
        )


def bench_user():
    from django.contrib.auth import get_user_model

    user, _ = get_user_model()._default_manager.get_or_create(
        username=f"{PREFIX}.root", defaults={"is_superuser": True, "is_staff": True}
    )
    return user


def setup_cis(count):
    """``count`` CIs of one class, owned by a team."""
    from accounts.models import Team
    from cmdb.models import CI, CIClass
    from itom.context import acting_as

    with acting_as(label="bench:poller"):
        team, _ = Team.objects.get_or_create(name="Bench poller team")
        team.members.add(bench_user())
        ci_class = CIClass.objects.filter(slug="linux-server").first() or CIClass.objects.order_by("pk").first()
        if ci_class is None:
            ci_class = CIClass.objects.create(name="Bench server", slug="bench-server")
        return CI.objects.bulk_create(
            [
                CI(
                    name=f"{PREFIX}-ci-{n:04d}",
                    ci_class=ci_class,
                    owner_team=team,
                    criticality=(n % 4) + 1,
                    fqdn=f"{PREFIX}-ci-{n:04d}.bench.example",
                )
                for n in range(count)
            ]
        )


def setup_estate(check_count, ports):
    """The CIs and checks (due times left empty until the worker runs); returns the CIs."""
    from django.db import connection, transaction
    from django.utils import timezone

    from monitoring.models import Check, Zone

    cis = setup_cis(max(1, -(-check_count // CHECKS_PER_CI)))
    zone = Zone.objects.get(name="default")
    tcp_params, http_params = _params("tcp", "127.0.0.1", ports["tcp"][0]), None
    now = timezone.now()
    defaults = column_defaults(Check)
    rows = []
    for n in range(check_count):
        ci = cis[n // CHECKS_PER_CI]
        if n % 2 == 0:
            port = ports["tcp"][(n // 2) % len(ports["tcp"])]
            kind, target, params, port_value = "tcp", "127.0.0.1", tcp_params, port
        else:
            port = ports["http"][(n // 2) % len(ports["http"])]
            url = f"http://127.0.0.1:{port}/"
            if http_params is None:
                http_params = _params("http", url, None)
            kind, target, params, port_value = "http", url, http_params, None
        rows.append(
            defaults
            | {
                "id": n + 1,
                "name": f"{PREFIX} {kind} {n + 1:05d}",
                "ci_id": ci.pk,
                "kind": kind,
                "target": target,
                "port": port_value,
                "params": params,
                "interval": INTERVAL,
                "timeout": 10.0,
                "zone_id": zone.pk,
                "enabled": True,
                "uuid": uuid.uuid4(),
                "next_due_at": None,
                "claimed_until": None,
                "created_at": now,
                "updated_at": now,
            }
        )
    columns = list(defaults)
    with transaction.atomic(), connection.cursor() as cursor:
        copy_rows(cursor.cursor, Check, columns, ([row[c] for c in columns] for row in rows))
        cursor.execute("SELECT setval(pg_get_serial_sequence('monitoring_check', 'id'), %s)", [check_count])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE monitoring_check")
    return cis


def _params(kind, target, port):
    """The kind's normalised parameters (``monitoring.params.clean``), as a saved check has them."""
    try:
        from monitoring import params
    except ImportError:
        return {}
    return params.clean(kind, target, port, {})[2]


def spread_due_times(start, interval):
    """Every check due once over ``[start, start + interval)``, in an order unrelated to its id."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE monitoring_check c
               SET next_due_at = %s + make_interval(secs => %s * o.n / o.total), claimed_until = NULL
              FROM (SELECT id, row_number() OVER (ORDER BY md5(id::text)) - 1 AS n, count(*) OVER () AS total
                      FROM monitoring_check WHERE enabled) o
             WHERE c.id = o.id
            """,
            [start, interval],
        )


# --- Measuring the loop -----------------------------------------------------------------------------


def db_scalar(sql, params=()):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def backlog(dispatch_seconds):
    """Enabled checks overdue by more than one dispatch period."""
    return db_scalar(
        "SELECT count(*) FROM monitoring_check WHERE enabled AND next_due_at < now() - make_interval(secs => %s)",
        [dispatch_seconds],
    )


def table_writes():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
            "WHERE relname IN ('monitoring_check', 'monitoring_checkresult')"
        )
        return {name: (ins, upd, hot) for name, ins, upd, hot in cursor.fetchall()}


def run_phase(name, seconds, dispatch_seconds, worker, beat, stats):
    """Wait ``seconds``, printing progress; samples the backlog into ``stats``."""
    from django.utils import timezone

    started = time.monotonic()
    last_at = timezone.now()
    next_progress = started + PROGRESS_S
    while True:
        now = time.monotonic()
        if now >= started + seconds:
            return
        time.sleep(min(2.0, started + seconds - now))
        for child in (worker, beat):
            if child.popen.poll() is not None:
                raise RuntimeError(f"{child.name} exited with {child.popen.returncode}:\n{child.output()[-3000:]}")
        waiting = backlog(dispatch_seconds)
        stats.setdefault(name, []).append(waiting)
        if time.monotonic() >= next_progress:
            next_progress += PROGRESS_S
            at = timezone.now()
            count = db_scalar("SELECT count(*) FROM monitoring_checkresult WHERE at >= %s AND at < %s", [last_at, at])
            rate = count / max(0.001, (at - last_at).total_seconds()) * 60
            claimed = db_scalar("SELECT count(*) FROM monitoring_check WHERE claimed_until > now()")
            say(
                f"  {name:<8} t+{time.monotonic() - started:5.0f} s   {rate:9,.0f} checks/min over the last "
                f"{(at - last_at).total_seconds():.0f} s   backlog {waiting:6,d}   claimed {claimed:6,d}"
            )
            last_at = at


def window_figures(t0, t1, dispatch_seconds):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT floor(extract(epoch FROM at - %s) / 60)::int AS minute, count(*)
              FROM monitoring_checkresult WHERE at >= %s AND at < %s GROUP BY 1 ORDER BY 1
            """,
            [t0, t0, t1],
        )
        per_minute = cursor.fetchall()
        cursor.execute(
            """
            SELECT count(*), percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY lag_ms),
                   max(lag_ms), count(*) FILTER (WHERE lag_ms > %s)
              FROM monitoring_checkresult WHERE at >= %s AND at < %s
            """,
            [GOAL_LAG_P99_MS, t0, t1],
        )
        count, lags, lag_max, over_goal = cursor.fetchone()
        cursor.execute(
            "SELECT status, count(*) FROM monitoring_checkresult WHERE at >= %s AND at < %s GROUP BY 1 ORDER BY 2 DESC",
            [t0, t1],
        )
        statuses = cursor.fetchall()
        cursor.execute(
            "SELECT message, count(*) FROM monitoring_checkresult WHERE at >= %s AND at < %s AND status <> 'up' "
            "GROUP BY 1 ORDER BY 2 DESC LIMIT 5",
            [t0, t1],
        )
        failures = cursor.fetchall()
    return {
        "count": count,
        "per_minute": per_minute,
        "lags": lags or [None, None, None],
        "lag_max": lag_max,
        "over_goal": over_goal,
        "statuses": statuses,
        "failures": failures,
    }


def wait_for_drain(timeout=30):
    """Until no check is claimed (the batches in flight have recorded their results)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not db_scalar("SELECT count(*) FROM monitoring_check WHERE claimed_until IS NOT NULL"):
            return True
        time.sleep(0.5)
    return False


def profile_worker(worker, seconds, log_dir):
    """py-spy records the worker's busiest child for ``seconds`` (in the background)."""
    py_spy = shutil.which("py-spy", path=str(ROOT / ".venv" / "bin")) or shutil.which("py-spy")
    if py_spy is None:
        say("  (--profile: py-spy is not installed: .venv/bin/pip install py-spy)")
        return []
    stats = read_stats()
    children = sorted(descendants(stats, worker.pid) - {worker.pid})
    procs = []
    for pid in children:
        out = log_dir / f"profile-worker-{pid}.txt"
        procs.append(
            subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(seconds),
                    "--format",
                    "raw",
                    "--output",
                    str(out),
                    "--rate",
                    "50",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
        )
    say(f"  py-spy: recording worker processes {children} for {seconds} s into {log_dir}/profile-worker-*.txt")
    return procs


def stall(worker, seconds):
    """Freeze every process of the worker for ``seconds`` (SIGSTOP … SIGCONT): a hiccup such as a
    slow database or a busy machine, after which the poller must catch up and settle again."""
    pids = sorted(descendants(read_stats(), worker.pid))
    say(f"  stall    the worker's {len(pids)} processes stopped for {seconds} s (SIGSTOP, then SIGCONT)")
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def poller_run(args, database_url, log_dir):
    from django.conf import settings
    from django.utils import timezone

    from monitoring import probes
    from monitoring.models import Check

    dispatch_seconds = settings.MONITORING_DISPATCH_SECONDS
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["LOG_LEVEL"] = args.log_level
    bin_dir = ROOT / ".venv" / "bin"
    celery = str(bin_dir / "celery") if (bin_dir / "celery").exists() else "celery"
    sampler = CPUSampler(database_url, database_url.rsplit("/", 1)[1].split("?")[0])
    listeners = worker = beat = None
    report = {}
    try:
        listeners = Listeners(args.tcp_ports, args.http_ports)
        say(
            f"Listeners: {len(listeners.ports['tcp'])} TCP and {len(listeners.ports['http'])} HTTP "
            f"on 127.0.0.1 (pid {listeners.pid})."
        )
        loaded = time.monotonic()
        cis = setup_estate(args.checks, listeners.ports)
        say(
            f"Loaded {args.checks:,} checks ({args.checks // 2 + args.checks % 2:,} TCP, {args.checks // 2:,} HTTP) "
            f"on {len(cis):,} CIs in {time.monotonic() - loaded:.1f} s."
        )
        worker = Child(
            "worker",
            [
                celery,
                "-A",
                "itom",
                "worker",
                "-Q",
                "poll.default,default",
                "--pool",
                "prefork",
                "--concurrency",
                str(args.concurrency),
                "--loglevel",
                "INFO",
                "-n",
                f"{PREFIX}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            env,
            log_dir,
        )
        worker.wait_for(" ready.", 60)
        beat = Child(
            "beat",
            [
                celery,
                "-A",
                "itom",
                "beat",
                "--scheduler",
                "django_celery_beat.schedulers:DatabaseScheduler",
                "--loglevel",
                "INFO",
            ],
            env,
            log_dir,
        )
        beat.wait_for("beat: Starting", 60)
        sampler.track("celery worker (all processes)", worker.pid)
        sampler.track("celery beat", beat.pid)
        sampler.track("listeners", listeners.pid)
        sampler.start()
        spread_due_times(timezone.now() + dt.timedelta(seconds=1), INTERVAL)
        say(
            f"Worker (prefork, concurrency {args.concurrency}, queues poll.default,default) and beat "
            f"(dispatch every {dispatch_seconds} s) running; due times spread over the next {INTERVAL} s."
        )
        say(f"Warm-up {args.warmup} s, then a {args.window} s window:")
        backlogs = {}
        if args.stall:
            run_phase("warm-up", args.warmup // 3, dispatch_seconds, worker, beat, backlogs)
            stall(worker, args.stall)
            run_phase("warm-up", args.warmup - args.warmup // 3, dispatch_seconds, worker, beat, backlogs)
        else:
            run_phase("warm-up", args.warmup, dispatch_seconds, worker, beat, backlogs)
        t0 = timezone.now()
        writes0 = table_writes()
        sampler.exclude.add(db_scalar("SELECT pg_backend_pid()"))
        sampler.mark("start")
        profilers = profile_worker(worker, min(args.profile, args.window), log_dir) if args.profile else []
        run_phase("window", args.window, dispatch_seconds, worker, beat, backlogs)
        t1 = timezone.now()
        sampler.exclude.add(db_scalar("SELECT pg_backend_pid()"))
        sampler.mark("end")
        writes1 = table_writes()
        end_backlog = backlog(dispatch_seconds)
        beat.stop()
        drained = wait_for_drain()
        worker.stop(60)
        for proc in profilers:
            proc.wait(30)
        report = window_figures(t0, t1, dispatch_seconds)
        report.update(
            seconds=(t1 - t0).total_seconds(),
            end_backlog=end_backlog,
            max_backlog=max(backlogs.get("window", [0])),
            drained=drained,
            writes=(writes0, writes1),
            cpu=sampler.between("start", "end"),
            dispatch_seconds=dispatch_seconds,
            concurrency=args.concurrency,
        )
        specs = [
            dataclasses.replace(probes.CheckSpec.of(check), due_at=None)
            for check in Check.objects.filter(
                pk__in=random.Random(1).sample(range(1, args.checks + 1), min(args.ceiling_checks, args.checks))
            )
        ]
        report["ceiling"] = ceiling(specs, args.ceiling_rounds)
    finally:
        for child in (beat, worker):
            if child is not None:
                child.stop()
        if listeners is not None:
            listeners.stop()
            report["served"] = listeners.served
        sampler.stop()
    return report


def ceiling(specs, rounds):
    """``probes.run_many`` in this process on ``specs``, in batches as a batch task runs them."""
    from django.conf import settings

    from monitoring import probes

    batch, concurrency = settings.MONITORING_BATCH_SIZE, settings.MONITORING_CONCURRENCY
    chunks = [specs[i : i + batch] for i in range(0, len(specs), batch)]
    say()
    say(
        f"Ceiling: probes.run_many in-process, {len(specs):,} of the same checks in batches of {batch} at "
        f"concurrency {concurrency}, no database ({rounds} rounds after a warm-up round; worker and beat stopped):"
    )
    figures = []
    for number in range(rounds + 1):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        outcomes = []
        for chunk in chunks:
            outcomes.extend(asyncio.run(probes.run_many(chunk, concurrency=concurrency)))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        up = sum(1 for o in outcomes if o.status == "up")
        rate = len(outcomes) / wall * 60
        label = "warm-up" if number == 0 else f"round {number}/{rounds}"
        say(
            f"  {label:<11} {rate:9,.0f} checks/min   {cpu / len(outcomes) * 1000:6.3f} ms CPU/check   "
            f"{up:,}/{len(outcomes):,} up"
        )
        if number:
            figures.append((rate, cpu / len(outcomes) * 1000, up, len(outcomes)))
    return figures


# --- The alert storm --------------------------------------------------------------------------------


def storm_payloads(cis, alerts, fingerprints, group):
    """Notifications as Alertmanager sends them: per alert group, its alerts; every group once,
    then again (still firing) until ``alerts`` alerts were sent."""
    groups = fingerprints // group
    starts = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
    repeats = alerts // fingerprints
    rounds = []
    for _ in range(repeats):
        batch = []
        for g in range(groups):
            name = f"BenchStorm{g:02d}"
            items = []
            for k in range(group):
                n = g * group + k
                ci = cis[n % len(cis)]
                instance = f"{ci.name}:{9100 + k}"
                labels = {"alertname": name, "instance": instance, "job": "node", "severity": "critical"}
                items.append(
                    {
                        "status": "firing",
                        "labels": labels,
                        "annotations": {
                            "summary": f"{name} on {instance}",
                            "description": "Generated by bench.poller.",
                        },
                        "startsAt": starts.isoformat().replace("+00:00", "Z"),
                        "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": f"http://prometheus.bench.example/graph?g0.expr={name}",
                        "fingerprint": hashlib.sha256(f"{name}|{instance}".encode()).hexdigest()[:16],
                    }
                )
            batch.append(
                {
                    "version": "4",
                    "groupKey": f'{{}}:{{alertname="{name}"}}',
                    "truncatedAlerts": 0,
                    "status": "firing",
                    "receiver": "itom",
                    "groupLabels": {"alertname": name},
                    "commonLabels": {"alertname": name, "job": "node", "severity": "critical"},
                    "commonAnnotations": {},
                    "externalURL": "http://alertmanager.bench.example:9093",
                    "alerts": items,
                }
            )
        rounds.append(batch)
    return rounds


def alert_storm(cis, user, args):
    from django.test import Client

    from incidents.models import Incident
    from monitoring.models import Alert
    from monitoring.services import integrations

    integration, token = integrations.create_integration(
        user=user,
        name=f"{PREFIX} alertmanager",
        kind="alertmanager",
        requests_per_minute=1_000_000,
        items_per_minute=10_000_000,
    )
    client = Client()
    url = "/api/v1/monitoring/ingest/alertmanager/"
    rounds = storm_payloads(cis, args.storm_alerts, args.storm_fingerprints, STORM_GROUP)
    incidents_before = Incident.objects.count()
    say()
    say(
        f"Alert storm: {args.storm_alerts:,} Alertmanager alerts over {args.storm_fingerprints:,} fingerprints, "
        f"{len(rounds[0])} notifications of {STORM_GROUP} alerts per pass, {len(rounds)} passes, "
        f"POST {url} through Django's test client in-process:"
    )
    timings = []  # (pass, alerts, seconds)
    started = time.perf_counter()
    for number, notifications in enumerate(rounds):
        pass_started = time.perf_counter()
        for payload in notifications:
            body = json.dumps(payload)
            t = time.perf_counter()
            response = client.post(url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
            seconds = time.perf_counter() - t
            if response.status_code not in (200, 202):
                raise RuntimeError(f"{url} answered {response.status_code}: {response.content[:500]!r}")
            timings.append((number, len(payload["alerts"]), seconds))
        sent = sum(len(p["alerts"]) for p in notifications)
        say(f"  pass {number + 1:2d}/{len(rounds)}: {sent / (time.perf_counter() - pass_started):8,.0f} alerts/s")
    total = time.perf_counter() - started
    incidents = Incident.objects.count() - incidents_before
    alerts = Alert.objects.filter(integration=integration)
    firing = alerts.filter(status="firing").count()
    occurrences = sum(alerts.values_list("occurrences", flat=True))
    with_incident = alerts.exclude(incident=None).values("incident").distinct().count()
    return {
        "timings": timings,
        "total": total,
        "incidents": incidents,
        "firing": firing,
        "alerts": alerts.count(),
        "occurrences": occurrences,
        "with_incident": with_incident,
    }


# --- Report -----------------------------------------------------------------------------------------


def print_poller_report(args, report):
    minutes = report["seconds"] / 60
    count = report["count"]
    rate = count / minutes
    p50, p95, p99 = report["lags"]
    used, busy, wall, others = report["cpu"]
    poller_groups = ("celery worker (all processes)", "celery beat", PG_MINE)
    poller_cpu = sum(used.get(g, 0) for g in poller_groups)
    (w0, w1) = report["writes"]
    inserted = w1["monitoring_checkresult"][0] - w0["monitoring_checkresult"][0]
    updated = w1["monitoring_check"][1] - w0["monitoring_check"][1]
    hot = w1["monitoring_check"][2] - w0["monitoring_check"][2]
    offered = args.checks / INTERVAL * 60
    stalled = f"; after a {args.stall} s stall of the worker in the warm-up" if args.stall else ""
    say()
    say(
        f"End to end over a {report['seconds']:.0f} s window ({args.checks:,} checks every {INTERVAL} s = "
        f"{offered:,.0f} checks/min offered; worker prefork × {report['concurrency']}, dispatch every "
        f"{report['dispatch_seconds']} s{stalled}):"
    )
    per_minute = [n for minute, n in report["per_minute"] if minute < int(minutes)]
    say(f"  checks run                   {count:,} = {rate:,.0f} checks/min")
    if per_minute:
        say(
            f"  per whole minute             {', '.join(f'{n:,}' for n in per_minute)} "
            f"(median {statistics.median(per_minute):,.0f})"
        )
    say(
        f"  backlog (overdue > {report['dispatch_seconds']} s)      at the end {report['end_backlog']:,}; "
        f"max sampled in the window {report['max_backlog']:,}"
    )
    say(
        f"  scheduling lag (lag_ms)      p50 {_ms(p50)}  p95 {_ms(p95)}  p99 {_ms(p99)}  max {_ms(report['lag_max'])}  "
        f"({report['over_goal']:,} runs over {GOAL_LAG_P99_MS} ms)"
    )
    say(f"  statuses                     {', '.join(f'{s} {n:,}' for s, n in report['statuses'])}")
    for message, n in report["failures"]:
        say(f"    {n:6,d} × {message[:110]}")
    say(
        f"  rows written                 {inserted / minutes:,.0f} results inserted/min, {updated / minutes:,.0f} "
        f"check rows updated/min ({updated / max(1, count):.2f} per check run, {hot / max(1, updated):.0%} HOT)"
    )
    say(f"  CPU over the window ({wall:.0f} s wall; machine {busy:.0%} busy of {os.cpu_count()} cores):")
    for group in (*poller_groups, "listeners", PG_BACKGROUND, REDIS):
        seconds = used.get(group, 0)
        say(
            f"    {group:<32} {seconds:7.1f} s  {seconds / wall:5.0%} of a core  "
            f"{seconds / max(1, count) * 1000:7.3f} ms/check"
        )
    if others:
        say(
            "    (other databases committed transactions in the window — their backends that ended count in the "
            "PostgreSQL line: " + ", ".join(f"{name} {n:,}" for name, n in sorted(others.items())) + ")"
        )
    per_check = poller_cpu / max(1, count) * 1000
    say(f"  CPU per check (worker + beat + PostgreSQL backends)   {per_check:.3f} ms")
    if per_check:
        say(
            f"  → this machine's {os.cpu_count()} cores could run at most ~{os.cpu_count() * 60_000 / per_check:,.0f} "
            f"checks/min at that cost (no listener, no other load)"
        )
    ceiling_figures = report["ceiling"]
    ceiling_rate = statistics.median(f[0] for f in ceiling_figures)
    ceiling_cpu = statistics.median(f[1] for f in ceiling_figures)
    say()
    say("Ceiling (probes.run_many in-process, no database), median over rounds:")
    say(f"  {ceiling_rate:,.0f} checks/min on one process, {ceiling_cpu:.3f} ms CPU/check")
    say(f"  end to end ÷ ceiling (checks/min)          {rate / ceiling_rate:.2f}")
    say(f"  end-to-end CPU/check ÷ ceiling CPU/check   {per_check / ceiling_cpu:.2f}")
    if report.get("served"):
        say(
            f"  listeners served {report['served']['tcp']:,} TCP and {report['served']['http']:,} HTTP "
            "connections in all"
        )
    say()
    met = (
        rate >= GOAL_RATE
        and report["end_backlog"] <= max(10, args.checks // 1000)
        and p99 is not None
        and p99 < GOAL_LAG_P99_MS
    )
    say(
        f"Goal: ≥ {GOAL_RATE:,} checks/min end to end with no backlog and p99 lag < {GOAL_LAG_P99_MS / 1000:g} s — "
        f"{'met' if met else 'MISSED'} ({rate:,.0f} checks/min, backlog {report['end_backlog']:,}, p99 {_ms(p99)})"
    )
    if not report["drained"]:
        say("  (the worker had not recorded every claimed check 30 s after the window: see worker.log)")


def _ms(value):
    return "—" if value is None else f"{value:,.0f} ms"


def print_storm_report(args, storm):
    first = [alerts / seconds for number, alerts, seconds in storm["timings"] if number == 0]
    repeats = [alerts / seconds for number, alerts, seconds in storm["timings"] if number > 0]
    say()
    say(f"Alert storm ({len(storm['timings'])} notifications of {STORM_GROUP} alerts):")
    say(f"  first pass (opens the incidents)   median {statistics.median(first):8,.0f} alerts/s per notification")
    if repeats:
        say(f"  repeats (the alerts again)         median {statistics.median(repeats):8,.0f} alerts/s per notification")
    say(
        f"  overall                            {args.storm_alerts / storm['total']:8,.0f} alerts/s "
        f"({storm['total']:.1f} s)"
    )
    say(
        f"  incidents opened {storm['incidents']:,}; alerts {storm['alerts']:,} ({storm['firing']:,} firing, "
        f"{storm['with_incident']:,} with an incident); occurrences {storm['occurrences']:,}"
    )
    ok = (
        storm["incidents"] == args.storm_fingerprints
        and storm["firing"] == args.storm_fingerprints
        and storm["with_incident"] == args.storm_fingerprints
        and storm["occurrences"] == args.storm_alerts
    )
    say(
        f"Check: exactly {args.storm_fingerprints:,} incidents and firing alerts for {args.storm_alerts:,} alerts — "
        f"{'yes' if ok else 'NO'}"
    )
    return ok


# --- Main --------------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=CHECKS, help=f"checks at a {INTERVAL} s interval")
    parser.add_argument("--warmup", type=int, default=WARMUP_S, help="seconds before the window")
    parser.add_argument("--window", type=int, default=WINDOW_S, help="seconds measured (at least 180 for a figure)")
    parser.add_argument("--concurrency", type=int, default=WORKER_CONCURRENCY, help="worker processes (prefork)")
    parser.add_argument("--tcp-ports", type=int, default=TCP_PORTS)
    parser.add_argument("--http-ports", type=int, default=HTTP_PORTS)
    parser.add_argument("--ceiling-rounds", type=int, default=CEILING_ROUNDS)
    parser.add_argument("--ceiling-checks", type=int, default=CEILING_CHECKS)
    parser.add_argument("--storm-alerts", type=int, default=STORM_ALERTS)
    parser.add_argument("--storm-fingerprints", type=int, default=STORM_FINGERPRINTS)
    parser.add_argument("--no-storm", action="store_true", help="skip the alert storm")
    parser.add_argument("--storm-only", action="store_true", help="only the alert storm")
    parser.add_argument(
        "--stall", type=int, default=0, metavar="SECONDS", help="freeze the worker this long a third into the warm-up"
    )
    parser.add_argument("--profile", type=int, default=0, metavar="SECONDS", help="py-spy the worker in the window")
    parser.add_argument("--broker", default=BROKER_URL, help="Redis URL (flushed)")
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL of the worker and beat (INFO, as deployed)")
    args = parser.parse_args(argv)
    if args.storm_fingerprints % STORM_GROUP or args.storm_alerts % args.storm_fingerprints:
        parser.error(f"--storm-fingerprints must be a multiple of {STORM_GROUP}, --storm-alerts of it")

    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ["CELERY_BROKER_URL"] = args.broker
    os.environ["MONITORING_DISPATCH_SECONDS"] = str(DISPATCH_SECONDS)
    started = time.monotonic()
    ensure_database(database_url)
    configure_django(database_url)

    import redis
    from django.core.management import call_command

    say(f"Database {database_url.rsplit('/', 1)[1]}: migrating …")
    call_command("migrate", verbosity=0)
    refuse_foreign_data()
    wipe()
    redis.Redis.from_url(args.broker).flushdb()
    log_dir = LOG_DIR / database_url.rsplit("/", 1)[1].split("?")[0]  # one per database: runs may not share
    log_dir.mkdir(parents=True, exist_ok=True)
    ok = True
    try:
        if not args.storm_only:
            report = poller_run(args, database_url, log_dir)
            print_poller_report(args, report)
        else:
            setup_cis(STORM_CIS)
        if not args.no_storm:
            from cmdb.models import CI

            cis = list(CI.objects.filter(name__startswith=PREFIX).order_by("pk"))
            ok = print_storm_report(args, alert_storm(cis, bench_user(), args))
    finally:
        redis.Redis.from_url(args.broker).flushdb()  # what the storm queued: no worker runs it
    say()
    say(f"Done in {time.monotonic() - started:.0f} s. Logs: {log_dir.relative_to(ROOT)}/")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
