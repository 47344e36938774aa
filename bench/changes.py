"""Change conflict detection against 10,000 booked changes (PostgreSQL).

What it measures
    In-process (no HTTP server: the figures are the query and Python cost of one call), on an
    estate of 3,000 CIs (30 business services) and 13,000 changes over a year from a fixed
    anchor — 10,000 booked (9,980 scheduled, 20 being implemented), each 1–4 hours long, with 1–4
    affected CIs, up to 8 impacted CIs (business services among them) and one of 40 assignees —
    plus 3,000 that book nothing (1,000 closed in the year before, 1,000 canceled and 1,000 new
    or assess drafts spread over the year), and 15 blackout windows of every scope. The measured
    change has 50 affected CIs, 150 impacted CIs (5 business services) and an assignee; a dozen
    changes are planted in its window on its CIs, on its impact set and on its assignee, with
    near misses (touching windows, changes that book nothing); four blackouts of different scopes
    (environment, class, parent class, service) overlap it.

    Checked before measuring: each measured change's conflicts are compared with the ones
    computed in Python from the generated data (the same changes, kinds and blackouts).

    Targets, each timed once per round for ROUNDS rounds, in alternating order; reported as
    median and p95 over rounds, with the number of SQL queries of one call:

    - ``changes.conflicts.find_conflicts`` of the 50-CI change — the goal: ≤ 3 queries and
      ≤ 50 ms median;
    - the same of a change with one affected CI and 5 impacted ones;
    - ``changes.conflicts.blocking_blackouts`` of the 50-CI change (what scheduling asks);
    - ``changes.selectors.cis_under_maintenance`` (what monitoring will ask, every few seconds);
    - ``changes.selectors.calendar_entries`` over a month, evaluated (the calendar's data).

    Each query of the 50-CI change's ``find_conflicts`` is also run once under ``EXPLAIN
    (ANALYZE, BUFFERS)`` to split the database's share from Python's.

How to run
    From the project root, alone on the machine::

        .venv/bin/python -m bench.changes            # or: make bench-changes
        .venv/bin/python -m bench.changes --rebuild  # drop the data and build it again

    It uses ``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/itom_bench_changes``;
    created when missing, then migrated). Building the data (generated in Python, loaded with
    COPY, then VACUUM ANALYZE) takes a few seconds; it is kept between runs and rebuilt when
    missing or different (a fingerprint of the layout is kept in the measured change's
    description), or with ``--rebuild``. It refuses to touch a database holding changes or CIs
    that aren't its own. ``--plan`` prints the EXPLAIN plans, ``--sql`` each target's SQL. Never
    part of the test suite.
"""

import argparse
import datetime as dt
import gc
import hashlib
import os
import random
import re
import sys
import time
from dataclasses import dataclass, field

from bench.common import (
    WARMUP_ROUNDS,
    Target,
    column_defaults,
    configure_django,
    copy_rows,
    ensure_database,
    ratio_line,
    run_rounds,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/itom_bench_changes"
ANCHOR = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)  # a Monday; the data doesn't depend on today
DAYS = 365
CI_COUNT = 3_000
SERVICE_COUNT = 30
BOOKED = 10_000
IMPLEMENTING = 20
CLOSED, CANCELED, DRAFTS = 1_000, 1_000, 1_000
ASSIGNEES = 40
MEASURED_AFFECTED, MEASURED_IMPACTED, MEASURED_SERVICES = 50, 150, 5
ROUNDS = 21
GOAL_MS, GOAL_QUERIES = 50, 3
SEED = 20261124
CI_PREFIX = "bench-"
TITLE_PREFIX = "Bench change"
ASSIGNEE = "bench.assignee.{:02d}"
CLASSES = ("linux-server", "windows-server", "virtual-machine", "database", "application", "application")
ENVIRONMENTS = ("production",) * 6 + ("staging",) * 2 + ("test", "development")
BOOKED_STATES = {"authorize", "scheduled", "implement"}
MEASURED_START = ANCHOR + dt.timedelta(days=100, hours=20)  # 20:00–24:00
SINGLE_START = ANCHOR + dt.timedelta(days=200, hours=10)  # 10:00–12:00


# --- The data -----------------------------------------------------------------------------------


@dataclass
class Change:
    title: str
    state: str
    start: dt.datetime
    end: dt.datetime
    assignee: int | None  # index into the assignees
    affected: set = field(default_factory=set)
    impacted: set = field(default_factory=set)  # includes the services
    services: set = field(default_factory=set)
    type: str = "normal"


@dataclass
class Blackout:
    name: str
    start: dt.datetime
    end: dt.datetime
    environment: str = ""
    classes: tuple = ()  # class slugs
    services: tuple = ()  # CI ids


@dataclass
class Estate:
    """``cis[i]`` has id ``i + 1`` (name, class slug, environment); ``changes[i]`` id ``i + 1``:
    the first is the measured 50-CI change, the second the one-CI change."""

    cis: list = field(default_factory=list)
    changes: list = field(default_factory=list)
    blackouts: list = field(default_factory=list)


def _quarter_hour(moment):
    return moment.replace(minute=moment.minute // 15 * 15, second=0, microsecond=0)


def generate():
    """The estate of the module docstring; deterministic."""
    rng = random.Random(SEED)
    estate = Estate()
    for n in range(SERVICE_COUNT):
        estate.cis.append((f"{CI_PREFIX}service-{n:02d}", "business-service", "production"))
    for n in range(CI_COUNT - SERVICE_COUNT):
        estate.cis.append((f"{CI_PREFIX}ci-{n:04d}", CLASSES[n % len(CLASSES)], rng.choice(ENVIRONMENTS)))
    services = list(range(1, SERVICE_COUNT + 1))
    others = list(range(SERVICE_COUNT + 1, CI_COUNT + 1))

    def change(title, state, start, hours, assignee, affected, impacted=(), services_=()):
        impacted = (set(impacted) | set(services_)) - set(affected)
        item = Change(f"{TITLE_PREFIX}: {title}", state, start, start + dt.timedelta(hours=hours), assignee)
        item.affected, item.impacted, item.services = set(affected), impacted, set(services_)
        estate.changes.append(item)
        return item

    def random_change(title, state, day_from, day_to):
        start = _quarter_hour(ANCHOR + dt.timedelta(days=rng.uniform(day_from, day_to)))
        affected = rng.sample(others, rng.randint(1, 4))
        return change(
            title,
            state,
            start,
            rng.choice((1, 2, 2, 3, 4)),
            rng.randrange(ASSIGNEES) if rng.random() < 0.9 else None,
            affected,
            rng.sample(others, rng.randint(0, 8)),
            rng.sample(services, rng.choice((0, 0, 1, 2))),
        )

    pool = rng.sample(others, MEASURED_AFFECTED + MEASURED_IMPACTED)
    mine, around = pool[:MEASURED_AFFECTED], pool[MEASURED_AFFECTED:]
    measured = change(
        "the measured one (50 CIs)",
        "scheduled",
        MEASURED_START,
        4,
        0,
        mine,
        around,
        services[:MEASURED_SERVICES],
    )
    change("one CI", "scheduled", SINGLE_START, 2, 1, [others[-1]], others[-6:-1])

    # Planted around the measured change: conflicts and near misses.
    start, hour = measured.start, dt.timedelta(hours=1)
    free = [pk for pk in others if pk not in set(pool)]
    for n in range(5):  # the same CIs
        change(f"same CI {n}", "scheduled", start + n * hour - hour, 2, 10 + n, mine[n : n + 2], rng.sample(free, 3))
    for n in range(4):  # on the measured change's impact set
        change(f"on its impact set {n}", "authorize", start + n * hour, 1, 15 + n, [around[n]], rng.sample(free, 2))
    for n in range(3):  # impacting the measured change's CIs
        change(f"impacting its CIs {n}", "implement", start + hour, 2, 20 + n, rng.sample(free, 1), [mine[10 + n]])
    for n in range(3):  # the same assignee
        change(f"same assignee {n}", "scheduled", start + n * hour, 1, 0, rng.sample(free, 1))
    change("touching before", "scheduled", start - 2 * hour, 2, 0, mine[:5])
    change("touching after", "scheduled", measured.end, 3, 0, mine[:5])
    for state in ("new", "assess", "closed", "canceled"):
        change(f"not booked ({state})", state, start, 2, 0, mine[:5], around[:5])

    while len([c for c in estate.changes if c.state in BOOKED_STATES]) < BOOKED:
        random_change(f"scheduled {len(estate.changes)}", "scheduled", 0, DAYS)
    for item in rng.sample(estate.changes[2:], IMPLEMENTING):
        item.state = "implement"
    for n in range(CLOSED):
        random_change(f"closed {n}", "closed", -DAYS, 0)
    for n in range(CANCELED):
        random_change(f"canceled {n}", "canceled", 0, DAYS)
    for n in range(DRAFTS):
        random_change(f"draft {n}", rng.choice(("new", "assess")), 0, DAYS)

    day = dt.timedelta(days=1)
    estate.blackouts = [
        Blackout("Year-end freeze", ANCHOR + 350 * day, ANCHOR + 365 * day),
        Blackout("Production release freeze", start - day, start + 2 * day, environment="production"),
        Blackout("Database upgrade freeze", start - hour, start + hour, classes=("database",)),
        Blackout("Hardware refresh", start + 3 * hour, start + 30 * hour, classes=("hardware",)),
        Blackout("Online shop peak", start - 5 * day, start + 5 * day, services=(services[0],)),
        Blackout("Staging rebuild", start - day, start + 2 * day, environment="disaster_recovery"),
        Blackout("Payroll run", start - day, start + day, services=(services[-1],)),
    ]
    for n in range(8):
        begin = ANCHOR + rng.uniform(110, 340) * day
        estate.blackouts.append(
            Blackout(f"Freeze {n}", begin, begin + rng.uniform(0.5, 4) * day, rng.choice(("", "production", "test")))
        )
    return estate


def fingerprint(estate):
    digest = hashlib.sha256()
    for item in estate.changes:
        digest.update(repr((item.title, item.state, item.start, item.assignee, sorted(item.affected))).encode())
        digest.update(repr((sorted(item.impacted), sorted(item.services))).encode())
    for window in estate.blackouts:
        digest.update(repr(window).encode())
    return f"layout {digest.hexdigest()[:16]}"


def stored_estate_matches(estate):
    from changes.models import ChangeRequest
    from cmdb.models import CI

    if ChangeRequest.objects.exclude(title__startswith=TITLE_PREFIX).exists():
        raise SystemExit("This database holds changes that aren't the benchmark's: give another DATABASE_URL.")
    if CI.objects.exclude(name__startswith=CI_PREFIX).exists():
        raise SystemExit("This database holds CIs that aren't the benchmark's: give another DATABASE_URL.")
    first = ChangeRequest.objects.filter(pk=1).values_list("description", flat=True).first()
    return first == fingerprint(estate) and ChangeRequest.objects.count() == len(estate.changes)


def load(estate):
    """Replace every CI, change and blackout window with ``estate`` (TRUNCATE, COPY, VACUUM
    ANALYZE). Bulk loading bypasses the services and the audit trail on purpose."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management.color import no_style
    from django.db import connection, transaction

    from changes.models import BlackoutWindow, ChangeRequest
    from cmdb.models import CI, CIClass
    from itom.context import acting_as
    from itom.models import NumberSequence

    started = time.monotonic()
    classes = dict(CIClass.objects.values_list("slug", "id"))
    users = get_user_model()._default_manager
    agent = Group.objects.get(name="agent")
    assignees = []
    for n in range(ASSIGNEES):
        user, _ = users.get_or_create(username=ASSIGNEE.format(n))
        user.groups.add(agent)
        assignees.append(user.pk)

    ci_defaults = column_defaults(CI) | {"created_at": ANCHOR, "updated_at": ANCHOR}
    ci_columns = list(ci_defaults)
    ci_rows = [
        tuple(
            (ci_defaults | {"id": pk, "name": name, "ci_class_id": classes[slug], "environment": env})[c]
            for c in ci_columns
        )
        for pk, (name, slug, env) in enumerate(estate.cis, start=1)
    ]
    change_defaults = column_defaults(ChangeRequest)
    change_columns = list(change_defaults)
    change_rows, links = [], {"affected_cis": [], "impacted_cis": [], "impacted_services": []}
    for pk, item in enumerate(estate.changes, start=1):
        values = change_defaults | {
            "id": pk,
            "number": f"CHG{pk:07d}",
            "title": item.title,
            "description": fingerprint(estate) if pk == 1 else "",
            "type": item.type,
            "state": item.state,
            "assignee_id": assignees[item.assignee] if item.assignee is not None else None,
            "planned_start": item.start,
            "planned_end": item.end,
            "implementation_plan": "Follow the runbook.",
            "backout_plan": "Undo the runbook's steps.",
            "created_at": item.start - dt.timedelta(days=7),
            "updated_at": item.start - dt.timedelta(days=7),
        }
        if item.state == "closed":
            values |= {"close_code": "successful", "closed_at": item.end, "actual_start": item.start}
            values["actual_end"] = item.end
        change_rows.append(tuple(values[c] for c in change_columns))
        for name, cis in (
            ("affected_cis", item.affected),
            ("impacted_cis", item.impacted),
            ("impacted_services", item.services),
        ):
            links[name].extend((pk, ci) for ci in sorted(cis))

    throughs = {name: ChangeRequest._meta.get_field(name).remote_field.through for name in links}
    tables = [CI._meta.db_table, ChangeRequest._meta.db_table, BlackoutWindow._meta.db_table]
    tables += [through._meta.db_table for through in throughs.values()]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        copy_rows(cursor.cursor, CI, ci_columns, ci_rows)
        copy_rows(cursor.cursor, ChangeRequest, change_columns, change_rows)
        for name, rows in links.items():
            columns = ["id", "changerequest_id", "ci_id"]
            copy_rows(cursor.cursor, throughs[name], columns, ((n, *row) for n, row in enumerate(rows, start=1)))
        for statement in connection.ops.sequence_reset_sql(no_style(), [CI, ChangeRequest, *throughs.values()]):
            cursor.execute(statement)
        NumberSequence.objects.update_or_create(prefix="CHG", defaults={"last_value": len(estate.changes)})
        with acting_as(label="bench:changes"):
            for window in estate.blackouts:
                row = BlackoutWindow.objects.create(
                    name=window.name, start=window.start, end=window.end, environment=window.environment
                )
                row.ci_classes.set([classes[slug] for slug in window.classes])
                row.business_services.set(window.services)
    with connection.cursor() as cursor:  # autocommit: VACUUM can't run in a transaction
        cursor.execute(f"VACUUM ANALYZE {', '.join(tables)}")
    booked = sum(1 for c in estate.changes if c.state in BOOKED_STATES)
    link_count = sum(len(rows) for rows in links.values())
    print(
        f"Built {len(estate.cis):,} CIs, {len(estate.changes):,} changes ({booked:,} booked) with "
        f"{link_count:,} CI links, and {len(estate.blackouts)} blackout windows in {time.monotonic() - started:.1f}s.",
        flush=True,
    )


# --- What the answers must be -------------------------------------------------------------------


def expected_conflicts(estate, index):
    """``{(kind, change id or blackout name)}`` for ``estate.changes[index]``, computed in Python."""
    from cmdb.models import CIClass

    parents = CIClass.objects.parents_by_id()
    slugs = dict(CIClass.objects.values_list("slug", "id"))
    me = estate.changes[index]
    found = set()
    for pk, other in enumerate(estate.changes, start=1):
        if pk == index + 1 or other.state not in BOOKED_STATES or not (other.start < me.end and other.end > me.start):
            continue
        if other.affected & me.affected:
            found.add(("same_ci", pk))
        if (other.affected & (me.impacted - me.affected)) or (other.impacted & me.affected):
            found.add(("impacted_ci", pk))
        if me.assignee is not None and other.assignee == me.assignee:
            found.add(("assignee", pk))
    touched = me.affected | me.impacted
    lineage = set()
    for ci in touched:
        class_id = slugs[estate.cis[ci - 1][1]]
        while class_id is not None:
            lineage.add(class_id)
            class_id = parents.get(class_id)
    for window in estate.blackouts:
        if not (window.start < me.end and window.end > me.start):
            continue
        if (
            not (window.environment or window.classes or window.services)
            or any(estate.cis[ci - 1][2] == window.environment for ci in touched)
            or any(slugs[slug] in lineage for slug in window.classes)
            or set(window.services) & touched
        ):
            found.add(("blackout", window.name))
    return found


def check(estate, index, conflicts):
    got = {(c.kind, c.blackout_name if c.kind == "blackout" else c.change_id) for c in conflicts}
    want = expected_conflicts(estate, index)
    if got != want:
        raise SystemExit(f"find_conflicts of change {index + 1}: got {sorted(got - want)} extra, missed {want - got}")
    return len(got)


# --- Measuring ----------------------------------------------------------------------------------


def explain(sql):
    """``EXPLAIN (ANALYZE, BUFFERS)`` of one captured query: (planning ms, execution ms, plan)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    planning = float(re.search(r"Planning Time: ([\d.]+) ms", plan).group(1))
    execution = float(re.search(r"Execution Time: ([\d.]+) ms", plan).group(1))
    return planning, execution, plan


def targets_for(estate):
    from changes.conflicts import blocking_blackouts, find_conflicts
    from changes.models import ChangeRequest
    from changes.selectors import calendar_entries, cis_under_maintenance

    measured = ChangeRequest.objects.get(pk=1)
    single = ChangeRequest.objects.get(pk=2)
    found = {
        "measured": check(estate, 0, find_conflicts(measured)),
        "single": check(estate, 1, find_conflicts(single)),
    }
    implementing = [c for c in estate.changes if c.state == "implement"]
    want = set().union(*(c.affected | c.impacted for c in implementing))
    if cis_under_maintenance() != want:
        raise SystemExit("cis_under_maintenance doesn't answer the CIs of the changes being implemented")
    month = (ANCHOR + dt.timedelta(days=90), ANCHOR + dt.timedelta(days=120))
    in_month = sum(1 for c in estate.changes if c.state != "canceled" and c.start < month[1] and c.end > month[0])
    calendar = {}

    def calendar_month():
        entries = calendar_entries(*month)
        calendar["n"] = (len(list(entries.changes)), len(list(entries.blackouts)))

    targets = [
        Target(f"find_conflicts: 50 CIs + 150 impacted ({found['measured']} found)", lambda: find_conflicts(measured)),
        Target(f"find_conflicts: 1 CI + 5 impacted ({found['single']} found)", lambda: find_conflicts(single)),
        Target("blocking_blackouts: 50 CIs", lambda: blocking_blackouts(measured)),
        Target(f"cis_under_maintenance ({len(want)} CIs, {IMPLEMENTING} changes)", cis_under_maintenance),
        Target(f"calendar_entries: 30 days ({in_month} changes)", calendar_month),
    ]
    return targets, calendar, in_month


def print_report(targets, rounds, explained):
    conflicts = targets[0]
    print()
    print(f"Over {rounds} rounds (after {WARMUP_ROUNDS} warm-up rounds), in-process:")
    print(f"  {'target':<52} {'median ms':>10} {'p95 ms':>8} {'min ms':>8} {'queries':>8}")
    for t in targets:
        print(f"  {t.name:<52} {t.median:10.1f} {t.percentile(95):8.1f} {min(t.timings_ms):8.1f} {t.queries:8d}")
    print()
    print("Ratios within each round (median, range):")
    print(ratio_line("find_conflicts: 50 CIs ÷ 1 CI", conflicts, targets[1]))
    print(ratio_line("find_conflicts ÷ cis_under_maintenance", conflicts, targets[3]))
    print()
    print("EXPLAIN ANALYZE of find_conflicts' queries (50-CI change), once:")
    for n, (planning, execution, _plan) in enumerate(explained, start=1):
        print(f"  query {n}: planning {planning:.1f} ms, execution {execution:.1f} ms")
    print()
    verdict = "met" if conflicts.median <= GOAL_MS and conflicts.queries <= GOAL_QUERIES else "MISSED"
    print(
        f"Goal: find_conflicts of a 50-CI change against {BOOKED:,} booked changes in ≤ {GOAL_QUERIES} queries "
        f"and ≤ {GOAL_MS} ms median — {verdict} ({conflicts.queries} queries, {conflicts.median:.1f} ms median, "
        f"p95 {conflicts.percentile(95):.1f} ms)"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rebuild", action="store_true", help="drop the stored data and build it again")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"measured rounds (default {ROUNDS})")
    parser.add_argument("--plan", action="store_true", help="print the EXPLAIN ANALYZE plans")
    parser.add_argument("--sql", action="store_true", help="print the SQL each target runs")
    args = parser.parse_args(argv)
    started = time.monotonic()

    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench.changes needs PostgreSQL: set DATABASE_URL to a postgres:// URL")
    ensure_database(database_url)
    configure_django(database_url)

    from django.core.management import call_command
    from django.db import connection

    print(f"Database {connection.settings_dict['NAME']} on {connection.settings_dict['HOST']}: migrating …", flush=True)
    call_command("migrate", "--noinput", verbosity=0)
    estate = generate()
    if args.rebuild or not stored_estate_matches(estate):
        load(estate)
    else:
        print(f"Reusing the stored data ({len(estate.changes):,} changes).", flush=True)

    targets, calendar, in_month = targets_for(estate)
    for target in targets:
        target.count_queries()
        if args.sql:
            print(f"\n-- {target.name}: {target.queries} queries\n" + ";\n".join(target.sql))
    targets[-1].call()
    if calendar["n"][0] != in_month:
        raise SystemExit(f"calendar_entries: {calendar['n'][0]} changes, expected {in_month}")
    explained = [explain(sql) for sql in targets[0].sql]
    if args.plan:
        for n, (_planning, _execution, plan) in enumerate(explained, start=1):
            print(f"\n-- query {n}\n{plan}")
    gc.collect()

    print(f"\nMeasuring ({args.rounds} rounds; columns: " + ", ".join(t.name for t in targets) + ") …", flush=True)
    run_rounds(targets, args.rounds)
    print_report(targets, args.rounds, explained)
    print(f"\nDone in {time.monotonic() - started:.0f}s.")


if __name__ == "__main__":
    main()
