"""CMDB impact analysis and the CI list at 100,000 CIs and 300,000 relationships (PostgreSQL).

What it measures
    In-process (no HTTP server: the figures are the query and Python cost of one call), on a
    layered graph of 100,000 CIs and 300,000 relationships in ten "pods" of 10,000 CIs::

        core switch ← 4 distribution switches (a ring: a cycle) ← 40 access switches (two
        uplinks each: diamonds) ← 1,000 servers (two uplinks each, storage, VLAN) ← 5,000 VMs
        ← 800 databases (primary + replica VM) and 3,000 applications (one or two VMs, a
        database, chains of three, five cycles per pod, cloud services) ← 50 business services

    plus a few links between pods (a service using another pod's application, applications
    using another pod's database). Relationships are mostly ``runs-on``, ``connected-to`` and
    ``depends-on`` (which propagate failure), about a quarter ``contains`` and ``backed-up-by``
    (which don't). The first core switch has ~10,000 CIs downstream; the exact number comes
    from a breadth-first walk of the generated edges in Python, and impact analysis must
    return exactly those CIs at exactly those depths (checked before measuring).

    Targets, each timed once per round for ROUNDS rounds, interleaved so that the machine's
    noise spreads over all of them; reported as median and p95 over rounds, with ratios
    computed within each round:

    - ``cmdb.selectors.impact`` downstream of that core switch, depth 20 (the maximum);
    - its SQL alone (execute and fetch, no Python objects): the database's share of the call;
    - the same of a server (a mid-sized case) and of a business service (a leaf: nothing
      depends on it, so nothing is affected);
    - ``GET /api/v1/cmdb/cis/`` with ``page_size`` 50 and 500 (DRF's APIClient, in-process,
      ``force_authenticate`` as a ``viewer``), when the endpoint exists.

    The number of SQL queries of each target is counted (``CaptureQueriesContext``), and the
    core switch's impact query is run once under ``EXPLAIN (ANALYZE, BUFFERS)``.

How to run
    From the project root, alone on the machine::

        .venv/bin/python -m bench.cmdb_impact            # or: make bench-cmdb
        .venv/bin/python -m bench.cmdb_impact --rebuild  # drop the graph and build it again

    It uses ``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/itom_bench_cmdb``; the
    database is created when missing, then migrated). Building the graph (generated in Python,
    loaded with COPY, then VACUUM ANALYZE) takes 10–20 seconds; it is kept between runs and
    rebuilt only when missing or different, or with ``--rebuild``. It refuses to touch a
    database holding CIs that aren't its own. Measuring takes well under a minute. ``--plan``
    prints the whole EXPLAIN plan, ``--sql`` each target's SQL. Never part of the test suite.
"""

import argparse
import gc
import os
import random
import sys
import time
from collections import defaultdict, deque
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

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/itom_bench_cmdb"

CI_COUNT = 100_000
RELATIONSHIP_COUNT = 300_000
PODS = 10
DEPTH = 20  # cmdb.selectors.MAX_DEPTH: deep enough to reach everything
ROUNDS = 21
PAGE_SIZES = (50, 500)
GOAL_MS = 150
USERNAME = "bench.viewer"
SEED = 20261124

# Per pod (10,000 CIs).
DISTRIBUTION, ACCESS_PER_DIST, STORAGE, SERVERS_PER_ACCESS, VMS_PER_SERVER = 4, 10, 5, 25, 5
DATABASES, APPLICATIONS, CLOUD_SERVICES, SERVICES, APPS_PER_SERVICE = 800, 3000, 60, 50, 20
CYCLES_PER_POD = 5

PROPAGATING = {"depends-on", "runs-on", "connected-to"}
TEAMS = ("Bench Network", "Bench Platform", "Bench Database", "Bench Service Owners")
TAGS = ("web", "pci", "backup")


# --- Environment ------------------------------------------------------------------------------


# --- The graph --------------------------------------------------------------------------------


@dataclass
class Graph:
    """The generated estate: ``cis[i]`` has id ``i + 1``; ``relationships`` are (source, slug, target)."""

    cis: list = field(default_factory=list)  # (name, class slug, team index, extra fields)
    relationships: list = field(default_factory=list)
    core: int = 0  # the measured core switch
    server: int = 0  # a mid-sized case
    leaf: int = 0  # a business service: nothing depends on it

    def add(self, name, slug, team, **fields):
        self.cis.append((name, slug, team, fields))
        return len(self.cis)

    def link(self, source, slug, target):
        self.relationships.append((source, slug, target))


def build_graph():
    """The layered estate described in the module docstring; deterministic."""
    rng = random.Random(SEED)
    graph = Graph()
    add, link = graph.add, graph.link
    pods = []
    for p in range(PODS):
        core = add(f"core-sw-{p:02d}", "switch", 0)
        dists = [add(f"dist-sw-{p:02d}-{d}", "switch", 0) for d in range(DISTRIBUTION)]
        for d, dist in enumerate(dists):
            link(dist, "connected-to", core)
            link(dist, "connected-to", dists[(d + 1) % DISTRIBUTION])  # a ring: a cycle
        access = []
        for a in range(DISTRIBUTION * ACCESS_PER_DIST):
            switch = add(f"acc-sw-{p:02d}-{a:02d}", "switch", 0)
            link(switch, "connected-to", dists[a // ACCESS_PER_DIST])
            link(switch, "connected-to", dists[(a // ACCESS_PER_DIST + 1) % DISTRIBUTION])  # diamonds
            access.append(switch)
        storage = [add(f"stor-{p:02d}-{s}", "storage-array", 1) for s in range(STORAGE)]
        for array in storage:
            link(array, "connected-to", core)
        segments = []
        for a, switch in enumerate(access):
            segments.append(add(f"vlan-{p:02d}-{a:02d}", "network-segment", 0))
            link(segments[-1], "depends-on", switch)
        servers = []
        for i in range(len(access) * SERVERS_PER_ACCESS):
            a = i // SERVERS_PER_ACCESS
            server = add(
                f"srv-{p:02d}-{i:04d}",
                "windows-server" if i % 5 == 4 else "linux-server",
                1,
                fqdn=f"srv-{p:02d}-{i:04d}.pod{p:02d}.bench.example.com",
                ip_addresses=[f"10.{p}.{i // 250}.{i % 250 + 1}"],
                serial_number=f"BENCH{p:02d}{i:05d}",
                attributes={"cpu_count": 32, "memory_mb": 262144},
            )
            link(server, "connected-to", access[a])
            link(server, "connected-to", access[a ^ 1])  # a second uplink: diamonds
            link(server, "depends-on", storage[i % STORAGE])
            link(segments[a], "contains", server)
            servers.append(server)
        vms = []
        for v in range(len(servers) * VMS_PER_SERVER):
            vm = add(
                f"vm-{p:02d}-{v:05d}",
                "virtual-machine",
                1,
                fqdn=f"vm-{p:02d}-{v:05d}.pod{p:02d}.bench.example.com",
                ip_addresses=[f"10.{100 + p}.{v // 250}.{v % 250 + 1}"],
                attributes={"cpu_count": 4, "memory_mb": 8192, "hypervisor": f"srv-{p:02d}-{v // VMS_PER_SERVER:04d}"},
            )
            link(vm, "runs-on", servers[v // VMS_PER_SERVER])
            link(vm, "backed-up-by", storage[v % STORAGE])
            vms.append(vm)
        databases = []
        for i in range(DATABASES):
            db = add(f"db-{p:02d}-{i:03d}", "database", 2, attributes={"engine": "postgresql", "port": 5432})
            link(db, "runs-on", vms[i])
            link(db, "runs-on", vms[DATABASES + i])  # the replica
            link(db, "backed-up-by", storage[i % STORAGE])
            databases.append(db)
        clouds = [add(f"cloud-{p:02d}-{c:02d}", "cloud-service", 1) for c in range(CLOUD_SERVICES)]
        apps = [add(f"app-{p:02d}-{i:04d}", "application", 1) for i in range(APPLICATIONS)]
        first_app_vm = 2 * DATABASES
        for i, app in enumerate(apps):
            link(app, "runs-on", vms[first_app_vm + i])
            if i % 2 == 0:
                link(app, "runs-on", vms[first_app_vm + (i + APPLICATIONS // 2) % APPLICATIONS])  # diamonds
                link(app, "depends-on", clouds[i % CLOUD_SERVICES])
            link(app, "depends-on", databases[i % DATABASES])
            if i % 3 != 2:
                link(app, "depends-on", apps[i + 1])  # chains of three: app i needs app i + 1
        for c in range(CYCLES_PER_POD):
            head = c * (APPLICATIONS // CYCLES_PER_POD)
            link(apps[head + 2], "depends-on", apps[head])  # closes a chain into a cycle
        services = []
        for s in range(SERVICES):
            service = add(f"svc-{p:02d}-{s:02d}", "business-service", 3, attributes={"service_tier": "gold"})
            for m in range(APPS_PER_SERVICE):
                link(service, "depends-on", apps[s * (APPLICATIONS // SERVICES) + 3 * m])
            services.append(service)
        pods.append(
            {
                "core": core,
                "storage": storage,
                "servers": servers,
                "databases": databases,
                "apps": apps,
                "services": services,
            }
        )

    # A few links between pods: the estate isn't ten islands.
    for p, pod in enumerate(pods):
        previous, following = pods[p - 1], pods[(p + 1) % PODS]
        link(pod["services"][0], "depends-on", previous["apps"][1])
        for k in range(5):
            link(pod["apps"][3 * rng.randrange(APPLICATIONS // 3)], "depends-on", following["databases"][k])

    # Non-propagating filler (applications' backups) up to the exact relationship count.
    for n in range(RELATIONSHIP_COUNT - len(graph.relationships)):
        pod, i = pods[n % PODS], n // PODS
        link(pod["apps"][i % APPLICATIONS], "backed-up-by", pod["storage"][(i // APPLICATIONS) % STORAGE])

    graph.core = pods[0]["core"]
    graph.server = pods[3]["servers"][123]
    graph.leaf = pods[5]["services"][7]
    if len(graph.cis) != CI_COUNT or len(graph.relationships) != RELATIONSHIP_COUNT:
        raise RuntimeError(f"generated {len(graph.cis)} CIs and {len(graph.relationships)} relationships")
    if len(set(graph.relationships)) != RELATIONSHIP_COUNT:
        raise RuntimeError("the generator produced duplicate relationships")
    return graph


def graph_signature(graph):
    """A short fingerprint of the layout, kept in the core switch's description: a stored graph
    with the same counts but another layout (an older version of this file) is rebuilt."""
    import hashlib

    digest = hashlib.sha256(repr((graph.cis[::997], graph.relationships[::997])).encode())
    return f"bench graph {digest.hexdigest()[:16]}"


def downstream_depths(graph, start, depth):
    """``{ci id: shortest depth}`` of everything downstream of ``start``, breadth first in Python:
    the answer impact analysis must give."""
    dependents = defaultdict(list)
    for source, slug, target in graph.relationships:
        if slug in PROPAGATING:
            dependents[target].append(source)
    depths, queue = {start: 0}, deque([start])
    while queue:
        node = queue.popleft()
        if depths[node] == depth:
            continue
        for source in dependents[node]:
            if source not in depths:
                depths[source] = depths[node] + 1
                queue.append(source)
    del depths[start]
    return depths


# --- Loading (COPY) ---------------------------------------------------------------------------


def stored_graph_matches(graph):
    from cmdb.models import CI, Relationship

    core = CI.objects.filter(pk=graph.core).values_list("name", "description").first()
    return (
        core == ("core-sw-00", graph_signature(graph))
        and CI.objects.count() == CI_COUNT
        and Relationship.objects.count() == RELATIONSHIP_COUNT
    )


def load_graph(graph):
    """Replace every CI and relationship with ``graph`` (TRUNCATE, COPY, VACUUM ANALYZE). Bulk
    loading bypasses the audit trail on purpose: this is benchmark data, not a change."""
    from django.core.management.color import no_style
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Team
    from cmdb.models import CI, CIClass, Relationship, RelationshipType
    from cmdb.services import tags_named

    classes = dict(CIClass.objects.values_list("slug", "id"))
    types = dict(RelationshipType.objects.values_list("slug", "id"))
    teams = [Team.objects.get_or_create(name=name)[0].pk for name in TEAMS]
    tags = [tag.pk for tag in tags_named(TAGS)]
    now = timezone.now()
    signature = graph_signature(graph)

    ci_defaults = column_defaults(CI) | {"created_at": now, "updated_at": now}
    ci_columns = list(ci_defaults)
    ci_rows = []
    for pk, (name, slug, team, fields) in enumerate(graph.cis, start=1):
        values = ci_defaults | {"id": pk, "name": name, "ci_class_id": classes[slug], "owner_team_id": teams[team]}
        values |= fields
        if pk == graph.core:
            values["description"] = signature
        ci_rows.append(tuple(values[c] for c in ci_columns))

    rel_defaults = column_defaults(Relationship) | {"created_at": now, "updated_at": now}
    rel_columns = list(rel_defaults)
    rel_rows = []
    for pk, (source, slug, target) in enumerate(graph.relationships, start=1):
        values = rel_defaults | {"id": pk, "source_id": source, "type_id": types[slug], "target_id": target}
        rel_rows.append(tuple(values[c] for c in rel_columns))

    through = CI.tags.through
    tag_rows = [(pk, pk, tags[pk % len(tags)]) for pk in range(1, CI_COUNT + 1, 7)]

    started = time.monotonic()
    tables = [CI._meta.db_table, Relationship._meta.db_table, through._meta.db_table]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        copy_rows(cursor.cursor, CI, ci_columns, ci_rows)
        copy_rows(cursor.cursor, Relationship, rel_columns, rel_rows)
        copy_rows(cursor.cursor, through, ["id", "ci_id", "tag_id"], tag_rows)
        for statement in connection.ops.sequence_reset_sql(no_style(), [CI, Relationship, through]):
            cursor.execute(statement)
    with connection.cursor() as cursor:  # autocommit: VACUUM can't run in a transaction
        cursor.execute(f"VACUUM ANALYZE {', '.join(tables)}")
    return time.monotonic() - started


# --- Measuring --------------------------------------------------------------------------------


def prepare_graph(rebuild):
    """Build (or reuse) the stored graph and check impact analysis against it; returns the three
    measured CIs and ``{ci: number of dependents}``. The graph itself isn't kept (memory, GC)."""
    from cmdb.models import CI
    from itom.context import acting_as

    graph = build_graph()
    if rebuild or not stored_graph_matches(graph):
        if CI.objects.exists() and not CI.objects.filter(name="core-sw-00", description__startswith="bench graph"):
            sys.exit(
                "The database holds CIs that are not this benchmark's: refusing to replace them. "
                "Point DATABASE_URL at a database of its own (the default is itom_bench_cmdb)."
            )
        print(f"Building the graph: {CI_COUNT:,} CIs, {RELATIONSHIP_COUNT:,} relationships (COPY) …", flush=True)
        with acting_as(label="bench:cmdb_impact"):
            seconds = load_graph(graph)
        print(f"  loaded in {seconds:.1f}s", flush=True)
    else:
        print(f"The graph is in place ({CI_COUNT:,} CIs, {RELATIONSHIP_COUNT:,} relationships); --rebuild rebuilds it.")

    cis = CI.objects.in_bulk([graph.core, graph.server, graph.leaf])
    measured = [cis[graph.core], cis[graph.server], cis[graph.leaf]]
    dependents = {}
    for ci in measured:
        result = check_impact(ci, downstream_depths(graph, ci.pk, DEPTH))
        dependents[ci] = len(result.results)
        depths = sorted({r.depth for r in result.results})
        shape = (
            f" (depths {depths[0]}–{depths[-1]}, {len(result.business_services)} business services)" if depths else ""
        )
        print(f"  {ci.name}: {len(result.results):,} CIs downstream{shape}, as a breadth-first walk in Python finds")
    return *measured, dependents


def impact_target(name, ci, direction):
    from cmdb.selectors import impact

    return Target(name, lambda: impact(ci, direction, DEPTH))


def sql_target(name, ci, direction):
    """The impact query alone (execute and fetch the rows, no Python objects built)."""
    from django.db import connection

    from cmdb.selectors import _clamp, _sql, _tables

    sql = _sql(direction, _tables(), connection.vendor)

    def call():
        with connection.cursor() as cursor:
            cursor.execute(sql, {"start": ci.pk, "depth": _clamp(DEPTH)})
            cursor.fetchall()

    return Target(name, call)


def check_impact(ci, expected):
    """The impact of ``ci`` is exactly ``expected`` (ids and depths), paths end where they should."""
    from cmdb.choices import Direction
    from cmdb.selectors import impact

    result = impact(ci, Direction.DOWNSTREAM, DEPTH)
    found = {r.id: r.depth for r in result.results}
    if found != expected:
        missing, extra = set(expected) - set(found), set(found) - set(expected)
        wrong = {pk for pk in set(found) & set(expected) if found[pk] != expected[pk]}
        raise RuntimeError(
            f"impact of {ci.name}: {len(missing)} missing, {len(extra)} extra, {len(wrong)} wrong depths"
        )
    for r in result.results:
        if r.path[0].id != ci.pk or r.path[-1].id != r.id or len(r.path) != r.depth + 1:
            raise RuntimeError(f"impact of {ci.name}: a bad path to {r.name}")
    return result


def api_targets():
    """The CI list endpoint at each page size, or none when the endpoint isn't there."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from rest_framework.test import APIClient

    from itom.context import acting_as

    users = get_user_model()._default_manager
    with acting_as(label="bench:cmdb_impact"):
        user, _ = users.get_or_create(username=USERNAME)
        user.groups.add(Group.objects.get(name="viewer"))
    client = APIClient()

    def sign_in():
        # A fresh user object per request, as a real request has: no permission cache carried over.
        client.force_authenticate(users.get(pk=user.pk))

    sign_in()
    probe = client.get("/api/v1/cmdb/cis/", {"page_size": 1})
    if probe.status_code == 404:
        return []
    targets = []
    for size in PAGE_SIZES:
        body = None

        def call(size=size):
            nonlocal body
            response = client.get("/api/v1/cmdb/cis/", {"page_size": size})
            if response.status_code != 200:
                raise RuntimeError(f"/api/v1/cmdb/cis/ answered {response.status_code}: {response.content[:300]!r}")
            body = response.json()

        sign_in()
        call()
        if body["count"] != CI_COUNT or len(body["results"]) != size:
            raise RuntimeError(f"page_size={size}: count {body['count']}, {len(body['results'])} results")
        targets.append(Target(f"GET /api/v1/cmdb/cis/ ({size}/page)", call, prepare=sign_in))
    return targets


def explain(ci, direction):
    """``EXPLAIN (ANALYZE, BUFFERS)`` of the impact query: (planning ms, execution ms, plan text)."""
    import re

    from django.db import connection

    from cmdb.selectors import _clamp, _sql, _tables

    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS) " + _sql(direction, _tables(), connection.vendor),
            {"start": ci.pk, "depth": _clamp(DEPTH)},
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    planning = float(re.search(r"Planning Time: ([\d.]+) ms", plan).group(1))
    execution = float(re.search(r"Execution Time: ([\d.]+) ms", plan).group(1))
    return planning, execution, plan


# --- Report -----------------------------------------------------------------------------------


def print_report(targets, rounds):
    """``targets``: core switch, its SQL alone, server, leaf, then the list pages (if any)."""
    core, sql, _, leaf, *lists = targets
    print()
    print(f"Over {rounds} rounds (after {WARMUP_ROUNDS} warm-up rounds), in-process:")
    print(f"  {'target':<48} {'median ms':>10} {'p95 ms':>8} {'min ms':>8} {'queries':>8}")
    for t in targets:
        print(f"  {t.name:<48} {t.median:10.1f} {t.percentile(95):8.1f} {min(t.timings_ms):8.1f} {t.queries:8d}")
    print()
    print("Ratios within each round (median, and the range over rounds):")
    print(ratio_line("core switch ÷ leaf", core, leaf))
    print(ratio_line("core switch: impact() ÷ its SQL alone", core, sql))
    if len(lists) == 2:
        print(ratio_line(f"list: {PAGE_SIZES[1]}/page ÷ {PAGE_SIZES[0]}/page", lists[1], lists[0]))
    print()
    verdict = "met" if core.median <= GOAL_MS and core.queries == 1 else "MISSED"
    print(
        f"Goal: impact of the core switch ≤ {GOAL_MS} ms median in 1 query — {verdict} ({core.median:.1f} ms, "
        f"{core.queries} {'query' if core.queries == 1 else 'queries'})"
    )
    if len(lists) == 2:
        same = lists[0].queries == lists[1].queries
        print(
            f"Goal: list pages at a constant query count — {'met' if same else 'MISSED'} "
            f"({' vs '.join(str(t.queries) for t in lists)} queries for {' vs '.join(map(str, PAGE_SIZES))} per page)"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rebuild", action="store_true", help="drop the stored graph and build it again")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"measured rounds (default {ROUNDS})")
    parser.add_argument("--plan", action="store_true", help="print the whole EXPLAIN ANALYZE plan")
    parser.add_argument("--sql", action="store_true", help="print the SQL each target runs")
    args = parser.parse_args(argv)
    started = time.monotonic()

    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench.cmdb_impact needs PostgreSQL: set DATABASE_URL to a postgres:// URL")
    ensure_database(database_url)
    configure_django(database_url)

    from django.core.management import call_command
    from django.db import connection

    from cmdb.choices import Direction

    print(f"Database {connection.settings_dict['NAME']} on {connection.settings_dict['HOST']}: migrating …", flush=True)
    call_command("migrate", "--noinput", verbosity=0)
    core, server, leaf, dependents = prepare_graph(args.rebuild)
    gc.collect()  # the generated graph is garbage now: keep its collection out of the timings

    targets = [
        impact_target(f"impact {core.name} ({dependents[core]:,} dependents)", core, Direction.DOWNSTREAM),
        sql_target(f"{core.name}: the SQL alone (execute, fetch)", core, Direction.DOWNSTREAM),
        impact_target(f"impact {server.name} ({dependents[server]:,} dependents)", server, Direction.DOWNSTREAM),
        impact_target(f"impact {leaf.name} (a leaf: {dependents[leaf]})", leaf, Direction.DOWNSTREAM),
    ]
    lists = api_targets()
    if not lists:
        print("  GET /api/v1/cmdb/cis/ answers 404 (not written yet): the list is not measured.")
    targets += lists
    for target in targets:
        target.count_queries()
        if args.sql:
            print(f"\n-- {target.name}: {target.queries} queries\n" + ";\n".join(target.sql))

    planning, execution, plan = explain(core, Direction.DOWNSTREAM)
    print(f"\nEXPLAIN ANALYZE of the impact query of {core.name}:", end=" ")
    print(f"planning {planning:.1f} ms, execution {execution:.1f} ms")
    if args.plan:
        print(plan)

    print(f"\nMeasuring ({args.rounds} rounds; columns: " + ", ".join(t.name for t in targets) + ") …", flush=True)
    run_rounds(targets, args.rounds)
    print_report(targets, args.rounds)
    print(f"\nDone in {time.monotonic() - started:.0f}s.")


if __name__ == "__main__":
    main()
