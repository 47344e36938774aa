"""Impact analysis agrees with a plain breadth-first walk in Python on random graphs full of
cycles, diamonds and links that don't propagate, in both directions and at every depth limit.
Runs on whichever database the suite uses: the breadth-first SQL on PostgreSQL, the portable
form on SQLite (cmdb.selectors)."""

import random
from collections import defaultdict, deque
from itertools import pairwise

import pytest

from cmdb.choices import Direction
from cmdb.models import CI, Relationship
from cmdb.selectors import affected_ci_ids, impact
from tests.factories import ci_class, relationship_type

pytestmark = pytest.mark.django_db

KINDS = ["depends-on", "runs-on", "connected-to", "contains", "backed-up-by"]
PROPAGATING = {"depends-on", "runs-on", "connected-to"}


def random_graph(seed, size=40, links=90):
    """``size`` CIs and ``links`` random relationships (bulk-created: this is about the walk)."""
    rng = random.Random(seed)
    application = ci_class("application")
    cis = CI.objects.bulk_create(CI(name=f"n{seed}-{i:02d}", ci_class=application) for i in range(size))
    types = {kind: relationship_type(kind) for kind in KINDS}
    edges = set()
    while len(edges) < links:
        source, target = rng.sample(range(size), 2)
        edges.add((source, rng.choice(KINDS), target))
    Relationship.objects.bulk_create(
        Relationship(source=cis[s], type=types[kind], target=cis[t]) for s, kind, t in sorted(edges)
    )
    return cis, [(cis[s].pk, kind, cis[t].pk) for s, kind, t in edges]


def python_walk(edges, start_ids, direction, depth):
    """``{ci id: shortest depth}`` within ``depth`` hops, starts excluded; and the links usable."""
    neighbours = defaultdict(set)
    for source, kind, target in edges:
        if kind in PROPAGATING:
            if direction == Direction.DOWNSTREAM:
                neighbours[target].add(source)
            else:
                neighbours[source].add(target)
    depths = dict.fromkeys(start_ids, 0)
    queue = deque(start_ids)
    while queue:
        node = queue.popleft()
        if depths[node] < depth:
            for other in neighbours[node]:
                if other not in depths:
                    depths[other] = depths[node] + 1
                    queue.append(other)
    return {pk: d for pk, d in depths.items() if pk not in start_ids}, neighbours


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("direction", [Direction.DOWNSTREAM, Direction.UPSTREAM])
def test_every_ci_comes_once_at_its_shortest_depth_with_a_real_shortest_path(seed, direction):
    cis, edges = random_graph(seed)
    for start in cis[:8]:
        for depth in (1, 2, 3, 20):
            result = impact(start, direction, depth)
            expected, neighbours = python_walk(edges, [start.pk], direction, depth)
            assert {r.id: r.depth for r in result.results} == expected
            for r in result.results:
                hops = [hop.id for hop in r.path]
                assert hops[0] == start.pk and hops[-1] == r.id and len(hops) == r.depth + 1
                assert all(b in neighbours[a] for a, b in pairwise(hops))
            assert [r.depth for r in result.results] == sorted(r.depth for r in result.results)


@pytest.mark.parametrize("seed", [4, 5])
def test_affected_ci_ids_is_the_starts_and_everything_downstream_of_any_of_them(seed):
    cis, edges = random_graph(seed)
    starts = [cis[0].pk, cis[1].pk, cis[1].pk, cis[7].pk]
    for depth in (1, 3, 20):
        expected, _ = python_walk(edges, list(dict.fromkeys(starts)), Direction.DOWNSTREAM, depth)
        assert affected_ci_ids(starts, depth) == set(expected) | set(starts)


def test_affected_ci_ids_ignores_ids_that_are_not_cis():
    cis, _ = random_graph(6, size=5, links=0)
    missing = max(ci.pk for ci in cis) + 1000
    assert affected_ci_ids([missing]) == set()
    assert affected_ci_ids([cis[0].pk, missing]) == {cis[0].pk}
