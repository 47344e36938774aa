"""The SLA configuration in the admin console (managers only, writes through the services), the
demo seed, and the scan's place in Celery (route and beat schedule)."""

import io

import pytest
from django.conf import settings

from itom.celery_routes import TASK_ROUTES
from slas import demo
from slas.models import BusinessCalendar, Holiday, SLAClock, SLAPolicy, WorkingHours
from slas.services import sync_clocks
from tests.factories import IncidentFactory, business_calendar, sla_policy
from tests.slas.conftest import paris, subject

pytestmark = pytest.mark.django_db

MODELS = ["businesscalendar", "slapolicy", "slaclock"]


def inline(prefix, rows, initial=0):
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"{prefix}-{index}-{key}"] = value
    return data


@pytest.mark.parametrize("model", MODELS)
def test_a_manager_opens_each_changelist(maria_client, model):
    policy = sla_policy()
    sync_clocks(IncidentFactory(), subject(), at=paris(2026, 7, 6, 9, 0))
    assert maria_client.get(f"/admin/slas/{model}/").status_code == 200
    if model != "slaclock":
        assert maria_client.get(f"/admin/slas/{model}/add/").status_code == 200
        assert (
            maria_client.get(
                f"/admin/slas/{model}/{policy.pk if model == 'slapolicy' else policy.calendar_id}/change/"
            ).status_code
            == 200
        )
    else:
        clock = SLAClock.objects.first()
        assert maria_client.get(f"/admin/slas/slaclock/{clock.pk}/change/").status_code == 200  # read-only view
        assert maria_client.get("/admin/slas/slaclock/add/").status_code == 403


@pytest.mark.parametrize("who", ["alice", "victor"])
def test_agents_and_viewers_are_kept_out(client, people, who):
    client.force_login(people[who])
    response = client.get("/admin/slas/slapolicy/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_calendar_saved_in_the_admin_goes_through_the_service(maria_client):
    data = {"name": "Night shift", "description": "", "time_zone": "Europe/Paris"}
    data.update(inline("hours", [{"weekday": "0", "start": "22:00", "end": "00:00"}]))
    data.update(inline("holidays", [{"date": "2026-12-25", "name": "Christmas Day"}]))
    response = maria_client.post("/admin/slas/businesscalendar/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    calendar = BusinessCalendar.objects.get(name="Night shift")
    assert [(h.weekday, h.start.hour, h.end.hour) for h in calendar.hours.all()] == [(0, 22, 0)]
    assert list(calendar.holidays.values_list("name", flat=True)) == ["Christmas Day"]


def test_overlapping_hours_are_refused_in_the_admin_too(maria_client):
    data = {"name": "Clash", "description": "", "time_zone": "Europe/Paris"}
    data.update(
        inline(
            "hours",
            [{"weekday": "0", "start": "08:00", "end": "12:00"}, {"weekday": "0", "start": "09:00", "end": "10:00"}],
        )
    )
    data.update(inline("holidays", []))
    response = maria_client.post("/admin/slas/businesscalendar/add/", data)
    assert response.status_code == 200 and "Overlaps another interval" in response.content.decode()
    assert not BusinessCalendar.objects.filter(name="Clash").exists()


def test_a_policy_saved_in_the_admin_keeps_its_targets(maria_client):
    calendar = business_calendar()
    data = {
        "name": "Admin policy",
        "description": "",
        "active": "on",
        "order": "5",
        "calendar": str(calendar.pk),
        "priorities": "[1]",
        "pause_states": '["on_hold"]',
        "warning_thresholds": "[80]",
    }
    data.update(inline("targets", [{"metric": "response", "priority": "1", "minutes": "20"}]))
    response = maria_client.post("/admin/slas/slapolicy/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    policy = SLAPolicy.objects.get(name="Admin policy")
    assert list(policy.targets.values_list("metric", "priority", "minutes")) == [("response", 1, 20)]
    assert policy.warning_thresholds == [80]


def test_the_demo_seed_is_idempotent_and_gives_a_working_setup():
    out = io.StringIO()
    assert len(demo.seed(out)) == 4
    assert demo.seed(out) == []
    office = BusinessCalendar.objects.get(name="Office hours")
    assert office.time_zone == "Europe/Paris" and not office.always_open
    assert sorted(WorkingHours.objects.filter(calendar=office).values_list("weekday", flat=True)) == [0, 1, 2, 3, 4]
    years = set(Holiday.objects.filter(calendar=office).values_list("date__year", flat=True))
    assert len(years) == 2 and Holiday.objects.filter(calendar=office, name="Christmas Day").count() == 2
    assert BusinessCalendar.objects.get(name="24 × 7").always_open
    critical, standard = SLAPolicy.objects.order_by("order")
    assert critical.priorities == [1, 2] and critical.calendar.name == "24 × 7"
    assert standard.priorities == [3, 4, 5] and standard.calendar == office
    clocks = {c.metric: c for c in sync_clocks(IncidentFactory(), subject(priority=4), at=paris(2026, 7, 6, 9, 0))}
    assert clocks["response"].policy == standard and clocks["response"].target_seconds == 8 * 3600
    assert "slas: 2 calendars and 2 policies" in out.getvalue()


def test_the_scan_is_routed_and_scheduled_every_minute():
    assert TASK_ROUTES["slas.tasks.scan_sla_clocks"] == {"queue": "default"}
    entry = settings.CELERY_BEAT_SCHEDULE["scan-sla-clocks"]
    assert entry["task"] == "slas.tasks.scan_sla_clocks" and entry["schedule"] == 60
