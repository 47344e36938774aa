"""What the benchmarks share: Django set up from the environment as in production, the
database created when missing, COPY loading, and timed targets run in alternating rounds."""

import io
import json
import os
import secrets
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BROKER_URL = "redis://127.0.0.1:6379/14"  # never used in-process; set so settings need nothing else
WARMUP_ROUNDS = 2


def configure_django(database_url):
    """Settings from the environment, as in production (``DEBUG=0``), then ``django.setup()``."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("CELERY_BROKER_URL", BROKER_URL)
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ["DEBUG"] = "0"
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itom.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def ensure_database(database_url):
    """Create the database named in ``database_url`` when it doesn't exist yet."""
    import psycopg2
    from psycopg2 import sql

    url = urlsplit(database_url)
    name = url.path.lstrip("/")
    params = {"host": url.hostname, "port": url.port or 5432, "user": url.username, "password": url.password}
    conn = psycopg2.connect(dbname="postgres", **{k: v for k, v in params.items() if v is not None})
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                print(f"Created database {name}.", flush=True)
    finally:
        conn.close()


def copy_text(value):
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (list, dict)):
        value = json.dumps(value)
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_rows(cursor, model, columns, rows):
    """COPY ``rows`` (tuples in ``columns`` order) into ``model``'s table."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(copy_text(v) for v in row))
        buffer.write("\n")
    buffer.seek(0)
    table = model._meta.db_table
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def column_defaults(model):
    """``{column: value}`` for every concrete field: its default, else ``""`` or NULL."""
    values = {}
    for f in model._meta.concrete_fields:
        if f.has_default():
            values[f.column] = f.get_default()
        else:
            values[f.column] = None if f.null else ""
    return values


@dataclass
class Target:
    name: str
    call: object  # () -> anything; timed
    prepare: object = None  # () -> None; run before each call, not timed
    timings_ms: list = field(default_factory=list)
    queries: int = 0
    sql: list = field(default_factory=list)

    def run(self):
        if self.prepare is not None:
            self.prepare()
        started = time.perf_counter()
        self.call()
        return (time.perf_counter() - started) * 1000

    def count_queries(self):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        if self.prepare is not None:
            self.prepare()
        with CaptureQueriesContext(connection) as context:
            self.call()
        self.queries = len(context.captured_queries)
        self.sql = [q["sql"] for q in context.captured_queries]

    def percentile(self, pct):
        ordered = sorted(self.timings_ms)
        return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * pct / 100))]

    @property
    def median(self):
        return statistics.median(self.timings_ms)


def run_rounds(targets, rounds, warmup=WARMUP_ROUNDS):
    for _ in range(warmup):
        for target in targets:
            target.run()
    for number in range(1, rounds + 1):
        order = targets if number % 2 else list(reversed(targets))  # no target always runs first
        for target in order:
            target.timings_ms.append(target.run())
        print(
            f"  round {number:2d}/{rounds} " + "  ".join(f"{t.timings_ms[-1]:7.1f}" for t in targets) + "  ms",
            flush=True,
        )


def ratio_line(name, numerator, denominator):
    ratios = [n / d for n, d in zip(numerator.timings_ms, denominator.timings_ms, strict=True)]
    return f"  {name:<48} {statistics.median(ratios):8.2f}   ({min(ratios):.2f}–{max(ratios):.2f})"
