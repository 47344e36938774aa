"""Read-side queries of the CMDB that other apps call: impact analysis above all.

``impact(ci, direction, depth)`` answers, in one recursive SQL query (``WITH RECURSIVE``, on
PostgreSQL and SQLite alike):

- ``downstream``: what is affected when ``ci`` fails — the CIs that depend on it, directly or
  through others, along relationship types that propagate failure (app *runs on* server: the
  server failing takes the app down);
- ``upstream``: what ``ci`` needs — the CIs it depends on, along the same links.

Each affected CI comes once, at its shortest distance (``depth``), with one shortest ``path``
from ``ci`` to it. Cycles are harmless: the walk is bounded by the depth limit and every CI is
reported once. Business services are listed apart as well.

On PostgreSQL the walk is breadth first and expands each CI once (``_walk_postgresql``: one
row per level, carrying the CIs seen so far), so its cost follows the number of CIs reached:
~10,000 dependents through rings and diamonds of switches answer in tens of milliseconds
(bench/cmdb_impact.py, docs/benchmarks.md). The portable form (SQLite) walks (CI, depth)
pairs, which revisits a CI once per distinct path length: fine at the embedded default's size.
"""

from dataclasses import dataclass, field

from django.db import connections, router

from cmdb.choices import Direction
from cmdb.models import CI, CIClass, Relationship, RelationshipType

DEFAULT_DEPTH = 5
MAX_DEPTH = 20


@dataclass
class Hop:
    """One step of a path: the CI reached and the relationship label that led there."""

    id: int
    name: str
    via: str  # e.g. "runs on" (read from the affected CI towards the failed one) or "" for the start


@dataclass
class ImpactedCI:
    id: int
    name: str
    ci_class: str
    ci_class_id: int
    status: str
    environment: str
    criticality: int
    owner_team_id: int | None
    is_business_service: bool
    depth: int
    path: list = field(default_factory=list)  # [Hop(start), …, Hop(this CI)]


@dataclass
class Impact:
    ci: CI
    direction: str
    depth_limit: int
    results: list  # ImpactedCI, nearest first, the start excluded

    @property
    def business_services(self):
        return [r for r in self.results if r.is_business_service]

    @property
    def ids(self):
        return [r.id for r in self.results]


def _columns(direction):
    """``(walk_from, walk_to, label)``: the relationship columns the walk follows and the label of a hop.

    Downstream (who is hurt when X fails) walks target → source (the source depends on the
    target); upstream walks source → target. A hop is labelled as read from the previous CI to
    this one: "server hosts app" downstream, "app depends on db" upstream.
    """
    if direction == Direction.DOWNSTREAM:
        return "target_id", "source_id", "reverse_label"
    return "source_id", "target_id", "forward_label"


def _sql(direction, tables, vendor="postgresql"):
    """The recursive impact query for ``connection.vendor``: rows of (ci id, depth, previous CI's
    id, hop label, the CI's fields, its class's id, name and business-service flag)."""
    walk_from, _, label = _columns(direction)
    found = _found_postgresql(direction, tables) if vendor == "postgresql" else _found_portable(direction, tables)
    return f"""
WITH RECURSIVE {found}
SELECT s.ci_id, s.depth, r.{walk_from} AS prev_id, t.{label},
       ci.name, ci.status, ci.environment, ci.criticality, ci.owner_team_id,
       c.id, c.name, c.is_business_service
  FROM found s
  JOIN {tables["rel"]} r ON r.id = s.rel_id
  JOIN {tables["type"]} t ON t.id = r.type_id
  JOIN {tables["ci"]} ci ON ci.id = s.ci_id
  JOIN {tables["class"]} c ON c.id = ci.ci_class_id
 ORDER BY s.depth, ci.name, s.ci_id
"""


def _found_postgresql(direction, tables):
    """``found(ci_id, depth, rel_id)`` on PostgreSQL, from the breadth-first walk ``bfs``."""
    return f"""{_walk_postgresql(direction, tables)},
found AS (
    SELECT x.ci_id, b.depth, x.rel_id FROM bfs b, unnest(b.ids, b.rels) AS x(ci_id, rel_id) WHERE b.depth > 0
)"""


def _walk_postgresql(direction, tables, start="%(start)s"):
    """``bfs(depth, ids, rels, seen)`` on PostgreSQL: a breadth-first walk, one row per level.

    Each level carries the CIs first reached at that depth (``ids``), the relationship that led
    to each (``rels``: the lowest id among the links from the previous level) and every CI seen
    so far (``seen``), so each CI is expanded once, at its shortest depth: work grows with the
    number of CIs reached, not with the number of paths to them (rings and diamonds of switches
    would otherwise have the walk re-expand whole subtrees at every depth up to the limit)."""
    walk_from, walk_to, _ = _columns(direction)
    return f"""bfs(depth, ids, rels, seen) AS (
    SELECT 0, starts.ids, CAST('{{}}' AS bigint[]), starts.ids
      FROM (SELECT ARRAY(SELECT id FROM {tables["ci"]} WHERE id IN ({start})) AS ids) starts
  UNION ALL
    SELECT b.depth + 1, n.ids, n.rels, b.seen || n.ids
      FROM bfs b
     CROSS JOIN LATERAL (
        SELECT array_agg(c.ci_id) AS ids, array_agg(c.rel_id) AS rels
          FROM (
            SELECT r.{walk_to} AS ci_id, MIN(r.id) AS rel_id
              FROM unnest(b.ids) AS f(id)
              JOIN {tables["rel"]} r ON r.{walk_from} = f.id
              JOIN {tables["type"]} t ON t.id = r.type_id AND t.propagates_failure
             GROUP BY r.{walk_to}
          ) c
         WHERE NOT EXISTS (SELECT 1 FROM unnest(b.seen) AS s(id) WHERE s.id = c.ci_id)
     ) n
     WHERE b.depth < %(depth)s AND n.ids IS NOT NULL
)"""


def _found_portable(direction, tables):
    """``found(ci_id, depth, rel_id)`` in portable SQL (SQLite): every (CI, depth) the walk
    reaches, the shortest depth per CI, then the lowest-id link from a CI one level closer."""
    walk_from, walk_to, _ = _columns(direction)
    return f"""{_reach(direction, tables)},
best AS (
    SELECT ci_id, MIN(depth) AS depth FROM reach GROUP BY ci_id
),
found AS (
    SELECT b.ci_id, b.depth, MIN(r.id) AS rel_id
      FROM best b
      JOIN {tables["rel"]} r ON r.{walk_to} = b.ci_id
      JOIN {tables["type"]} t ON t.id = r.type_id AND t.propagates_failure
      JOIN best prev ON prev.ci_id = r.{walk_from} AND prev.depth = b.depth - 1
     WHERE b.depth > 0
     GROUP BY b.ci_id, b.depth
)"""


def _reach(direction, tables, start="%(start)s"):
    walk_from, walk_to, _ = _columns(direction)
    return f"""reach(ci_id, depth) AS (
    SELECT id, 0 FROM {tables["ci"]} WHERE id IN ({start})
  UNION
    SELECT r.{walk_to}, reach.depth + 1
      FROM reach
      JOIN {tables["rel"]} r ON r.{walk_from} = reach.ci_id
      JOIN {tables["type"]} t ON t.id = r.type_id AND t.propagates_failure
     WHERE reach.depth < %(depth)s
)"""


def _tables():
    return {
        "rel": Relationship._meta.db_table,
        "type": RelationshipType._meta.db_table,
        "ci": CI._meta.db_table,
        "class": CIClass._meta.db_table,
    }


def _clamp(depth):
    return max(1, min(int(depth), MAX_DEPTH))


def impact(ci, direction=Direction.DOWNSTREAM, depth=DEFAULT_DEPTH):
    """Impact analysis of ``ci`` (see the module docstring): one SQL query, whatever the graph."""
    if direction not in Direction.values:
        raise ValueError(f"direction must be one of {', '.join(Direction.values)}")
    depth = _clamp(depth)
    connection = connections[router.db_for_read(CI)]
    with connection.cursor() as cursor:
        cursor.execute(_sql(direction, _tables(), connection.vendor), {"start": ci.pk, "depth": depth})
        rows = cursor.fetchall()

    # Rows come nearest first, so the previous CI's path is known when a CI's row is read: each
    # path is its predecessor's plus one hop, and each CI's Hop is built once and shared.
    start = Hop(id=ci.pk, name=ci.name, via="")
    paths, results = {ci.pk: [start]}, []
    for ci_id, hops, prev_id, via, name, status, environment, criticality, team_id, cls_id, cls_name, bs in rows:
        path = [*paths[prev_id], Hop(id=ci_id, name=name, via=via)]
        paths[ci_id] = path
        results.append(
            ImpactedCI(
                id=ci_id,
                name=name,
                ci_class=cls_name,
                ci_class_id=cls_id,
                status=status,
                environment=environment,
                criticality=criticality,
                owner_team_id=team_id,
                is_business_service=bool(bs),
                depth=hops,
                path=path,
            )
        )
    return Impact(ci=ci, direction=direction, depth_limit=depth, results=results)


def affected_ci_ids(ci_ids, depth=DEFAULT_DEPTH):
    """The ids of ``ci_ids`` and of everything downstream of them, in one query (what change risk
    and alert suppression need: the CIs under a change and all that depend on them)."""
    ci_ids = [int(pk) for pk in ci_ids]
    if not ci_ids:
        return set()
    tables = _tables()
    placeholders = ", ".join(f"%(id{i})s" for i in range(len(ci_ids)))
    params = {f"id{i}": pk for i, pk in enumerate(ci_ids)} | {"depth": _clamp(depth)}
    connection = connections[router.db_for_read(CI)]
    if connection.vendor == "postgresql":
        walk = _walk_postgresql(Direction.DOWNSTREAM, tables, placeholders)
        sql = f"WITH RECURSIVE {walk} SELECT unnest(ids) FROM bfs"
    else:
        sql = f"WITH RECURSIVE {_reach(Direction.DOWNSTREAM, tables, placeholders)} SELECT DISTINCT ci_id FROM reach"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}
