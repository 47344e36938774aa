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


def _sql(direction, tables):
    """The recursive query. ``walk_from``/``walk_to``: the relationship columns the walk follows.

    Downstream (who is hurt when X fails) walks target → source (the source depends on the
    target); upstream walks source → target.
    """
    walk_from, walk_to = ("target_id", "source_id") if direction == Direction.DOWNSTREAM else ("source_id", "target_id")
    # A hop is labelled as read from the previous CI to this one: "server hosts app" downstream,
    # "app depends on db" upstream.
    label = "reverse_label" if direction == Direction.DOWNSTREAM else "forward_label"
    return f"""
WITH RECURSIVE {_reach(direction, tables)},
best AS (
    SELECT ci_id, MIN(depth) AS depth FROM reach GROUP BY ci_id
),
step AS (
    SELECT b.ci_id, b.depth, MIN(r.id) AS rel_id
      FROM best b
      JOIN {tables["rel"]} r ON r.{walk_to} = b.ci_id
      JOIN {tables["type"]} t ON t.id = r.type_id AND t.propagates_failure
      JOIN best prev ON prev.ci_id = r.{walk_from} AND prev.depth = b.depth - 1
     WHERE b.depth > 0
     GROUP BY b.ci_id, b.depth
)
SELECT s.ci_id, s.depth, r.{walk_from} AS prev_id, t.{label},
       ci.name, ci.status, ci.environment, ci.criticality, ci.owner_team_id,
       c.id, c.name, c.is_business_service
  FROM step s
  JOIN {tables["rel"]} r ON r.id = s.rel_id
  JOIN {tables["type"]} t ON t.id = r.type_id
  JOIN {tables["ci"]} ci ON ci.id = s.ci_id
  JOIN {tables["class"]} c ON c.id = ci.ci_class_id
 ORDER BY s.depth, ci.name, s.ci_id
"""


def _reach(direction, tables, start="%(start)s"):
    walk_from, walk_to = ("target_id", "source_id") if direction == Direction.DOWNSTREAM else ("source_id", "target_id")
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
    with connections[router.db_for_read(CI)].cursor() as cursor:
        cursor.execute(_sql(direction, _tables()), {"start": ci.pk, "depth": depth})
        rows = cursor.fetchall()

    results, previous = [], {}
    for ci_id, hops, prev_id, via, name, status, environment, criticality, team_id, cls_id, cls_name, bs in rows:
        previous[ci_id] = (prev_id, via, name)
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
            )
        )
    previous[ci.pk] = (None, "", ci.name)
    for result in results:
        result.path = _path_to(result.id, previous)
    return Impact(ci=ci, direction=direction, depth_limit=depth, results=results)


def _path_to(ci_id, previous):
    hops = []
    while ci_id is not None:
        prev_id, via, name = previous[ci_id]
        hops.append(Hop(id=ci_id, name=name, via=via))
        ci_id = prev_id
    hops.reverse()
    return hops


def affected_ci_ids(ci_ids, depth=DEFAULT_DEPTH):
    """The ids of ``ci_ids`` and of everything downstream of them, in one query (what change risk
    and alert suppression need: the CIs under a change and all that depend on them)."""
    ci_ids = [int(pk) for pk in ci_ids]
    if not ci_ids:
        return set()
    tables = _tables()
    placeholders = ", ".join(f"%(id{i})s" for i in range(len(ci_ids)))
    sql = f"WITH RECURSIVE {_reach(Direction.DOWNSTREAM, tables, placeholders)} SELECT DISTINCT ci_id FROM reach"
    params = {f"id{i}": pk for i, pk in enumerate(ci_ids)} | {"depth": _clamp(depth)}
    with connections[router.db_for_read(CI)].cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}
