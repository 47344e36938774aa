"""The incident queue and the SLA scan at 200,000 incidents (PostgreSQL).

What it measures
    In-process (no HTTP server: the figures are the query and Python cost of one request), on
    200,000 incidents spread over 20 teams — 100,000 open (new, in progress, on hold) and 100,000
    resolved or closed — each with a response and a resolution SLA clock (400,000 clocks; half the
    policies count office hours in Europe/Paris with French holidays, half 24 × 7). The clocks' due
    and warning times are computed with ``slas.businesstime``, relative to a fixed instant (the
    *anchor*) kept with the data, and the scan is run "at" the anchor, so every run sees the same
    work however long the data has been kept.

    Targets, each timed once per round for ROUNDS rounds, in alternating order; reported as median
    and p95 over rounds, with ratios computed within each round:

    - ``GET /livez``: the foundation's bare view (no database), through the same test client;
    - ``GET /api/v1/incidents/`` filtered by state, priority and team, 50 per page, as an agent —
      the queue endpoint; its ratio to ``livez`` is the figure to watch;
    - the same list unfiltered at 50 and 500 per page (query counts must not grow with the page);
    - ``GET /incidents/`` (the queue page, "All open") as an agent;
    - ``slas.services.scan`` at the anchor, where 1,000 running clocks are past due and 2,000 have
      crossed a warning threshold since the last scan (a busy desk catching up): it marks them in
      set-based queries and publishes ``slas.events`` (the incidents app writes timeline entries and
      notifications for each);
    - the same scan one minute later when nothing new is due (the steady-state cost);
    - one ``incidents.tasks.record_sla_events`` chunk (100 breaches): the follow-up work the scan
      hands to Celery workers — a timeline line and the escalation notifications per incident.

    The scan changes what it scans, so before each scan (untimed) the clocks it touched are put
    back from a snapshot table and what it wrote (clock events, timeline entries, notifications,
    webhook deliveries) is deleted. Query counts come from ``CaptureQueriesContext``.

How to run
    From the project root, alone on the machine::

        .venv/bin/python -m bench.incidents            # or: make bench-incidents
        .venv/bin/python -m bench.incidents --rebuild  # drop the data and build it again

    It uses ``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/itom_bench_incidents``;
    created when missing, then migrated). Building the data (generated in Python, loaded with COPY,
    then VACUUM ANALYZE) takes a minute or two and is kept between runs. It refuses to touch a
    database holding incidents that aren't its own. Never part of the test suite.
"""

import argparse
import datetime as dt
import os
import random
import statistics
from collections import Counter

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

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/itom_bench_incidents"
INCIDENT_COUNT = 200_000
OPEN_COUNT = 100_000
TEAM_COUNT = 20
AGENTS_PER_TEAM = 5
DUE_NOW = 1_000  # running clocks past due at the anchor, not yet marked breached
WARN_NOW = 2_000  # running clocks past a warning threshold at the anchor, not yet warned
ROUNDS = 15
SCAN_GOAL_S = 2.0
LIST_QUERY_GOAL = 10
SEED = 20261124
TITLE_PREFIX = "Bench incident"
AGENT = "bench.agent"


# --- Data -------------------------------------------------------------------------------------


def _anchor():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value text NOT NULL)")
        cursor.execute("SELECT value FROM bench_meta WHERE key = 'anchor'")
        row = cursor.fetchone()
    return dt.datetime.fromisoformat(row[0]) if row else None


def data_present():
    from incidents.models import Incident

    count = Incident.objects.count()
    if count and not Incident.objects.filter(title__startswith=TITLE_PREFIX).exists():
        raise SystemExit("This database holds incidents that aren't the benchmark's: give another DATABASE_URL.")
    return count == INCIDENT_COUNT and _anchor() is not None


def wipe():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE incidents_incident, incidents_timelineentry, slas_slaclock, slas_slaclockevent, "
            "itom_notification, itom_webhookdelivery RESTART IDENTITY CASCADE"
        )
        cursor.execute("DROP TABLE IF EXISTS bench_clock_snapshot")
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value text NOT NULL)")
        cursor.execute("DELETE FROM bench_meta WHERE key = 'anchor'")


def setup_reference_data():
    """Teams with agents, two calendars, two policies with targets; returns what the data needs."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from accounts.models import Team
    from itom.context import acting_as
    from slas.models import BusinessCalendar, Holiday, SLAPolicy, SLATarget, WorkingHours

    users = get_user_model()._default_manager
    agent_group = Group.objects.get(name="agent")
    with acting_as(label="bench:incidents"):
        teams = []
        for t in range(TEAM_COUNT):
            team, _ = Team.objects.get_or_create(name=f"Bench team {t:02d}")
            members = []
            for a in range(AGENTS_PER_TEAM):
                user, _ = users.get_or_create(username=f"bench.t{t:02d}.a{a}")
                user.groups.add(agent_group)
                members.append(user)
            team.members.add(*members)
            teams.append((team, members))
        agent, _ = users.get_or_create(username=AGENT)
        agent.groups.add(agent_group)
        teams[0][0].members.add(agent)

        office, _ = BusinessCalendar.objects.get_or_create(
            name="Bench office hours", defaults={"time_zone": "Europe/Paris"}
        )
        for day in range(5):
            WorkingHours.objects.get_or_create(calendar=office, weekday=day, start="08:00", end="18:00")
        import holidays as holiday_data

        for year in (2025, 2026, 2027):
            for date, name in holiday_data.country_holidays("FR", years=year).items():
                Holiday.objects.get_or_create(calendar=office, date=date, defaults={"name": name})
        always, _ = BusinessCalendar.objects.get_or_create(name="Bench 24 × 7", defaults={"always_open": True})
        policies = {}
        for name, calendar, priorities in (("Bench P1–P2", always, [1, 2]), ("Bench P3–P5", office, [3, 4, 5])):
            policy, created = SLAPolicy.objects.get_or_create(
                name=name, defaults={"calendar": calendar, "priorities": priorities, "order": 1}
            )
            if created:
                response = {1: 15, 2: 30, 3: 120, 4: 480, 5: 960}
                resolution = {1: 240, 2: 480, 3: 1440, 4: 4800, 5: 9600}
                SLATarget.objects.bulk_create(
                    [SLATarget(policy=policy, metric="response", priority=p, minutes=response[p]) for p in priorities]
                    + [
                        SLATarget(policy=policy, metric="resolution", priority=p, minutes=resolution[p])
                        for p in priorities
                    ]
                )
            for p in priorities:
                policies[p] = policy
    return teams, policies


def build(teams, policies):
    """Generate and COPY the incidents and their clocks; returns the anchor."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction

    from incidents.models import Incident
    from itom.models import NumberSequence
    from slas.models import SLAClock
    from slas.selectors import schedule_for

    rng = random.Random(SEED)
    anchor = dt.datetime.now(dt.UTC).replace(microsecond=0)
    schedules = {p: schedule_for(policy.calendar) for p, policy in policies.items()}
    targets = {
        (t.metric, t.priority): t.minutes * 60 for policy in set(policies.values()) for t in policy.targets.all()
    }

    incident_defaults = column_defaults(Incident)
    clock_defaults = column_defaults(SLAClock)
    content_type = ContentType.objects.get_for_model(Incident).pk
    incidents, clocks = [], []
    open_states = ["new"] * 20 + ["in_progress"] * 60 + ["on_hold"] * 20
    priorities = [1] * 2 + [2] * 8 + [3] * 30 + [4] * 40 + [5] * 20
    due_now = set(rng.sample(range(OPEN_COUNT), DUE_NOW))
    warn_now = set(rng.sample(sorted(set(range(OPEN_COUNT)) - due_now), WARN_NOW))

    def clock(pk, metric, priority, started, state, elapsed=0.0, warned=0, stopped=None, breached=None):
        policy = policies[priority]
        schedule = schedules[priority]
        target = targets[(metric, priority)]
        values = clock_defaults | {
            "id": len(clocks) + 1,
            "content_type_id": content_type,
            "object_id": pk,
            "policy_id": policy.pk,
            "calendar_id": policy.calendar_id,
            "metric": metric,
            "priority": priority,
            "target_seconds": target,
            "state": state,
            "started_at": started,
            "elapsed_seconds": elapsed,
            "warned_pct": warned,
            "stopped_at": stopped,
            "breached_at": breached,
            "created_at": started,
            "updated_at": started,
        }
        if state == "running":
            values["running_since"] = started
            values["due_at"] = schedule_add(schedule, started, target - elapsed)
            thresholds = [pct for pct in policy.warning_thresholds if pct > warned]
            if thresholds:
                values["warning_pct"] = thresholds[0]
                values["warning_at"] = schedule_add(schedule, started, target * thresholds[0] / 100 - elapsed)
        return values

    def started_for(priority, metric, offset_fraction):
        """A start such that the clock is ``offset_fraction`` of the way through its target at the anchor."""
        schedule = schedules[priority]
        target = targets[(metric, priority)]
        return schedule_sub(schedule, anchor, target * offset_fraction)

    for i in range(INCIDENT_COUNT):
        pk = i + 1
        team, members = teams[i % TEAM_COUNT]
        priority = rng.choice(priorities)
        impact, urgency = {1: (1, 1), 2: (1, 2), 3: (2, 2), 4: (2, 3), 5: (3, 3)}[priority]
        is_open = i < OPEN_COUNT
        state = rng.choice(open_states) if is_open else rng.choice(["resolved"] * 20 + ["closed"] * 80)
        assignee = rng.choice(members).pk if state != "new" else None
        if is_open:
            if i in due_now:
                fraction = rng.uniform(1.0005, 1.02)
            elif i in warn_now:
                fraction = rng.uniform(0.76, 0.89)
            else:
                fraction = rng.uniform(0.01, 0.7)
            # A new incident's response clock is the one that runs out first; the others' response is met.
            created = started_for(priority, "response" if state == "new" else "resolution", fraction)
        else:
            created = anchor - dt.timedelta(days=rng.uniform(8, 365))
        row = incident_defaults | {
            "id": pk,
            "number": f"INC{pk:07d}",
            "title": f"{TITLE_PREFIX} {pk}",
            "description": "Generated for bench.incidents.",
            "state": state,
            "impact": impact,
            "urgency": urgency,
            "priority": priority,
            "assignment_team_id": team.pk,
            "assignee_id": assignee,
            "source": rng.choice(["manual", "api", "monitoring"]),
            "hold_reason": "awaiting_caller" if state == "on_hold" else "",
            "created_at": created,
            "updated_at": created,
        }
        if state in ("resolved", "closed"):
            row |= {
                "resolution_code": "solved",
                "resolution_notes": "Fixed.",
                "resolved_at": created + dt.timedelta(hours=4),
            }
            row["first_responded_at"] = created + dt.timedelta(minutes=10)
            if state == "closed":
                row["closed_at"] = created + dt.timedelta(days=7)
        elif state != "new":
            row["first_responded_at"] = created + dt.timedelta(minutes=5)
        incidents.append(row)

        done = state in ("resolved", "closed")
        if state == "new":
            clocks.append(clock(pk, "response", priority, created, "running"))
        else:
            clocks.append(
                clock(pk, "response", priority, created, "met", elapsed=300, stopped=row["first_responded_at"])
            )
        if done:
            clocks.append(clock(pk, "resolution", priority, created, "met", elapsed=3600, stopped=row["resolved_at"]))
        elif state == "on_hold":
            clocks.append(
                clock(pk, "resolution", priority, created, "paused", elapsed=targets[("resolution", priority)] * 0.3)
            )
        else:
            clocks.append(clock(pk, "resolution", priority, created, "running"))

    incident_columns = list(incident_defaults)
    clock_columns = list(clock_defaults)
    with transaction.atomic(), connection.cursor() as cursor:
        copy_rows(cursor.cursor, Incident, incident_columns, ([r[c] for c in incident_columns] for r in incidents))
        copy_rows(cursor.cursor, SLAClock, clock_columns, ([r[c] for c in clock_columns] for r in clocks))
        cursor.execute("SELECT setval(pg_get_serial_sequence('incidents_incident', 'id'), %s)", [INCIDENT_COUNT])
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('slas_slaclock', 'id'), (SELECT max(id) FROM slas_slaclock))"
        )
        NumberSequence.objects.update_or_create(prefix="INC", defaults={"last_value": INCIDENT_COUNT})
        cursor.execute("DROP TABLE IF EXISTS bench_clock_snapshot")
        cursor.execute("CREATE TABLE bench_clock_snapshot AS SELECT * FROM slas_slaclock")
        cursor.execute("ALTER TABLE bench_clock_snapshot ADD PRIMARY KEY (id)")
        cursor.execute(
            "INSERT INTO bench_meta (key, value) VALUES ('anchor', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [anchor.isoformat()],
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    states = Counter(r["state"] for r in incidents)
    print(f"Built {len(incidents):,} incidents ({dict(states)}) and {len(clocks):,} clocks.", flush=True)
    return anchor


def schedule_add(schedule, start, seconds):
    from slas.businesstime import add_business_seconds

    return add_business_seconds(schedule, start, seconds)


def schedule_sub(schedule, end, seconds):
    """An instant ``seconds`` of business time before ``end`` (searching back day by day)."""
    from slas.businesstime import business_seconds

    start = end - dt.timedelta(seconds=seconds)
    while business_seconds(schedule, start, end) < seconds:
        start -= dt.timedelta(hours=6)
    lo, hi = start, end  # business_seconds(lo, end) >= seconds > business_seconds(hi, end)
    for _ in range(40):
        mid = lo + (hi - lo) / 2
        if business_seconds(schedule, mid, end) >= seconds:
            lo = mid
        else:
            hi = mid
    return lo


# --- Measuring --------------------------------------------------------------------------------


def restore_clocks():
    """Put back what a scan changed (untimed)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE slas_slaclock c SET state = s.state, due_at = s.due_at, warning_at = s.warning_at,
                   warning_pct = s.warning_pct, warned_pct = s.warned_pct, breached_at = s.breached_at,
                   stopped_at = s.stopped_at, updated_at = s.updated_at
              FROM bench_clock_snapshot s
             WHERE c.id = s.id AND (c.state <> s.state OR c.warned_pct <> s.warned_pct
                   OR c.warning_at IS DISTINCT FROM s.warning_at)
            """
        )
        cursor.execute("TRUNCATE slas_slaclockevent, incidents_timelineentry, itom_notification, itom_webhookdelivery")
        cursor.execute("VACUUM slas_slaclock")  # as autovacuum would between scans: no dead rows piling up


def api_targets(teams):
    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework.test import APIClient

    users = get_user_model()._default_manager
    agent = users.get(username=AGENT)
    api = APIClient()
    browser = Client()
    bare = Client()

    def sign_in():
        fresh = users.get(pk=agent.pk)  # no permission cache carried over, as in a real request
        api.force_authenticate(fresh)
        browser.force_login(fresh)

    def getter(client, url, params=None, expect_count=None):
        def call():
            response = client.get(url, params or {})
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}: {response.content[:300]!r}")
            if expect_count is not None:
                body = response.json()
                if len(body["results"]) != expect_count:
                    raise RuntimeError(f"{url} {params}: {len(body['results'])} results, expected {expect_count}")

        return call

    sign_in()
    team = teams[3][0]
    queue = {"state": "in_progress", "priority": 4, "assignment_team": team.pk, "page_size": 50}
    return [
        Target("GET /livez", getter(bare, "/livez")),
        Target(
            "GET /api/v1/incidents/ state+priority+team", getter(api, "/api/v1/incidents/", queue, 50), prepare=sign_in
        ),
        Target(
            "GET /api/v1/incidents/ (50/page)",
            getter(api, "/api/v1/incidents/", {"page_size": 50}, 50),
            prepare=sign_in,
        ),
        Target(
            "GET /api/v1/incidents/ (500/page)",
            getter(api, "/api/v1/incidents/", {"page_size": 500}, 500),
            prepare=sign_in,
        ),
        Target("GET /incidents/ (page, all open)", getter(browser, "/incidents/", {"queue": "open"}), prepare=sign_in),
    ]


def scan_targets(anchor):
    from slas.services import scan

    results = {}

    def busy():
        results["busy"] = scan(now=anchor)

    def idle():
        results["idle"] = scan(now=anchor + dt.timedelta(minutes=1))

    def prepare_idle():
        restore_clocks()
        scan(now=anchor)  # catch up first, so the next minute's scan finds nothing new

    from incidents.wiring import record_sla_events
    from slas.models import SLAClock

    chunk = [
        [pk, 0]
        for pk in SLAClock.objects.filter(state="running", due_at__lte=anchor).values_list("pk", flat=True)[:100]
    ]

    def record_chunk():
        record_sla_events("breached", chunk)

    return [
        Target("slas scan: 1,000 due + 2,000 warnings", busy, prepare=restore_clocks),
        Target("slas scan: nothing new (a minute later)", idle, prepare=prepare_idle),
        Target("record_sla_events: 100 breaches (one task)", record_chunk, prepare=restore_clocks),
    ], results


def print_report(targets, rounds, results):
    livez, queue, list50, list500, page, busy, _idle, _record = targets
    print()
    print(f"Over {rounds} rounds (after {WARMUP_ROUNDS} warm-up rounds), in-process:")
    print(f"  {'target':<48} {'median ms':>10} {'p95 ms':>8} {'min ms':>8} {'queries':>8}")
    for t in targets:
        print(f"  {t.name:<48} {t.median:10.1f} {t.percentile(95):8.1f} {min(t.timings_ms):8.1f} {t.queries:8d}")
    print()
    print(f"Last busy scan: {results.get('busy')}; last idle scan: {results.get('idle')}")
    print()
    print("Ratios within each round (median, and the range over rounds):")
    print(ratio_line("queue endpoint ÷ livez", queue, livez))
    print(ratio_line("list: 500/page ÷ 50/page", list500, list50))
    print(ratio_line("queue page ÷ queue endpoint", page, queue))
    print()
    lists = (queue, list50, list500, page)
    worst = max(t.queries for t in lists)
    same = list50.queries == list500.queries
    print(
        f"Goal: list pages at a constant query count ≤ {LIST_QUERY_GOAL} — "
        f"{'met' if worst <= LIST_QUERY_GOAL and same else 'MISSED'} "
        f"({', '.join(f'{t.queries}' for t in lists)} queries: queue, 50/page, 500/page, page)"
    )
    scan_s = statistics.median(busy.timings_ms) / 1000
    print(
        f"Goal: SLA scan over {OPEN_COUNT:,} open incidents < {SCAN_GOAL_S} s — "
        f"{'met' if scan_s < SCAN_GOAL_S else 'MISSED'} ({scan_s:.3f} s median, busy)"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="drop the data and build it again")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    ensure_database(database_url)
    configure_django(database_url)

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # the queue page renders as deployed
    teams, policies = setup_reference_data()
    if args.rebuild or not data_present():
        wipe()
        anchor = build(teams, policies)
    else:
        anchor = _anchor()
        print(f"Reusing the stored data (anchor {anchor:%Y-%m-%d %H:%M} UTC).", flush=True)
    restore_clocks()

    targets = api_targets(teams)
    scans, results = scan_targets(anchor)
    targets += scans
    for target in targets:
        target.count_queries()
    run_rounds(targets, args.rounds)
    restore_clocks()
    from itom.celery import app

    app.control.purge()  # the record_sla_events tasks the scans queued: no worker runs here
    print_report(targets, args.rounds, results)


if __name__ == "__main__":
    main()
