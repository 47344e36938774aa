"""What the incident API and pages embed: ``SLAClockSerializer`` and the badge, loaded with
``clock_prefetch()`` at a constant number of queries whatever the number of incidents."""

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident
from slas.api.serializers import SLAClockSerializer
from slas.selectors import clock_prefetch, forget_schedules
from slas.services import scan, sync_clocks
from tests.factories import IncidentFactory, business_calendar, sla_policy
from tests.slas.conftest import paris, subject

pytestmark = pytest.mark.django_db


def test_the_serializer_gives_the_clock_and_its_live_figures():
    policy = sla_policy()
    incident = IncidentFactory()
    sync_clocks(incident, subject(), at=paris(2026, 7, 6, 9, 0))
    scan(now=paris(2026, 7, 6, 9, 50))
    clocks = Incident.objects.prefetch_related(clock_prefetch()).get(pk=incident.pk).sla_clocks.all()
    data = SLAClockSerializer(clocks, many=True, context={"now": paris(2026, 7, 6, 9, 50)}).data
    response = next(item for item in data if item["metric"] == "response")
    assert response == {
        "id": response["id"],
        "metric": "response",
        "state": "running",
        "label": "At risk",
        "priority": 3,
        "target_minutes": 60,
        "started_at": "2026-07-06T07:00:00Z",
        "due_at": "2026-07-06T08:00:00Z",
        "elapsed_seconds": 3000,
        "remaining_seconds": 600,
        "percent": 83.3,
        "warned_pct": 75,
        "breached": False,
        "breached_at": None,
        "stopped_at": None,
        "policy": {"id": policy.pk, "name": "Standard"},
        "calendar": {"id": policy.calendar_id, "name": "Office hours"},
    }
    assert SLAClockSerializer.Meta.read_only_fields == SLAClockSerializer.Meta.fields


def test_a_paused_and_a_stopped_clock_report_what_they_counted():
    sla_policy()
    incident = IncidentFactory()
    sync_clocks(incident, subject(), at=paris(2026, 7, 6, 9, 0))
    sync_clocks(incident, subject(state="on_hold", responded=True), at=paris(2026, 7, 6, 10, 30))
    clocks = {c.metric: c for c in Incident.objects.prefetch_related(clock_prefetch()).get().sla_clocks.all()}
    context = {"now": paris(2026, 7, 7, 12, 0)}
    response = SLAClockSerializer(clocks["response"], context=context).data
    assert (response["state"], response["elapsed_seconds"], response["remaining_seconds"]) == ("breached", 5400, -1800)
    assert response["breached"] and response["breached_at"] == "2026-07-06T08:00:00Z"
    resolution = SLAClockSerializer(clocks["resolution"], context=context).data
    assert (resolution["state"], resolution["label"], resolution["due_at"]) == ("paused", "Paused", None)
    assert resolution["elapsed_seconds"] == 5400 and resolution["percent"] == pytest.approx(9.4)


def make_incidents(count):
    office = business_calendar()
    always = business_calendar(name="24 × 7", days=())
    always.always_open = True
    always.save()
    if not office.policies.exists():
        sla_policy(name="P1 round the clock", calendar=always, priorities=[1], order=1)
        sla_policy(name="Standard", calendar=office, order=2)
    for n in range(count):
        incident = IncidentFactory()
        sync_clocks(incident, subject(priority=1 if n % 2 else 3), at=paris(2026, 7, 6, 9, 0))


def render_page():
    """What a list page or endpoint does: load a page of incidents with their clocks, serialize
    them and render their badges."""
    forget_schedules()  # as in a fresh process
    incidents = list(Incident.objects.prefetch_related(clock_prefetch()).order_by("pk")[:50])
    data = [SLAClockSerializer(i.sla_clocks.all(), many=True).data for i in incidents]
    html = "".join(render_to_string("slas/_badge.html", {"clock": c}) for i in incidents for c in i.sla_clocks.all())
    return data, html


def count_queries():
    with CaptureQueriesContext(connection) as context:
        data, html = render_page()
    return len(context.captured_queries), data, html


def test_embedding_clocks_costs_the_same_queries_for_5_or_50_incidents():
    make_incidents(5)
    few, data, _ = count_queries()
    assert len(data) == 5 and all(len(clocks) == 2 for clocks in data)
    make_incidents(45)
    many, data, html = count_queries()
    assert len(data) == 50 and html.count("sla-badge") == 100
    assert few == many == 4  # incidents, clocks (with policy and calendar), hours, holidays
