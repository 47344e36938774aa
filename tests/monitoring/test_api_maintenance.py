"""``/api/v1/monitoring/maintenance/``: everyone reads maintenance windows, agents write them
through ``monitoring.services.maintenance``; a window covers CIs, classes (by id or slug) or tags,
one-off or weekly, and says whether it is in effect now."""

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from itom.models import ObjectChange
from monitoring.api.views import MaintenanceWindowViewSet
from monitoring.models import MaintenanceWindow
from tests.api_testing import APIEndpointTests
from tests.factories import CIFactory, ci_class
from tests.monitoring.factories import MaintenanceWindowFactory

pytestmark = pytest.mark.django_db

WINDOWS = "/api/v1/monitoring/maintenance/"
AGENTS_AND_UP = ("alice", "bob", "maria", "root")


def _window_data():
    start = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    return {
        "name": "Patch night",
        "cis": [CIFactory().pk],
        "start": start.isoformat(),
        "end": (start + timedelta(hours=4)).isoformat(),
    }


def _window():
    """A window covering a CI, without the audit row of the factory adding the CI (an "update" by
    the system) so that the update test finds only its own."""
    window = MaintenanceWindowFactory(cis=[CIFactory()])
    ObjectChange.objects.filter(
        content_type=ContentType.objects.get_for_model(MaintenanceWindow), object_id=str(window.pk), action="update"
    ).delete()
    return window


class TestMaintenanceWindowAPI(APIEndpointTests):
    viewset = MaintenanceWindowViewSet
    url_name = "api:monitoring-maintenance"
    make_object = staticmethod(_window)
    create_data = staticmethod(_window_data)
    update_data = {"reason": "Kernel updates."}
    invalid_data = {"recurrence": "monthly"}
    writers = AGENTS_AND_UP
    max_list_queries = 11


def test_a_weekly_window_by_class_slug_and_tag_is_written_and_read_back(alice_api):
    CIFactory(tags=["pci"])
    data = {
        "name": "Sunday backups",
        "recurrence": "weekly",
        "ci_classes": ["linux-server"],
        "tags": ["pci"],
        "weekdays": [6],
        "start_time": "02:00",
        "duration_minutes": 90,
    }
    response = alice_api.post(WINDOWS, data, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["ci_classes"] == [ci_class("linux-server").pk]
    assert (body["tags"], body["weekdays"], body["start_time"], body["duration_minutes"]) == (
        ["pci"],
        [6],
        "02:00:00",
        90,
    )
    assert body["created_by"]["username"] == "alice"


def test_a_window_running_now_says_it_is_in_effect(victor_api):
    running = MaintenanceWindowFactory(cis=[CIFactory()])
    later = MaintenanceWindowFactory(
        cis=[CIFactory()], start=timezone.now() + timedelta(days=1), end=timezone.now() + timedelta(days=2)
    )
    assert victor_api.get(f"{WINDOWS}{running.pk}/").json()["in_effect"] is True
    assert victor_api.get(f"{WINDOWS}{later.pk}/").json()["in_effect"] is False


def test_an_end_before_the_start_is_a_400_on_the_end_and_writes_nothing(alice_api):
    data = _window_data()
    data["start"], data["end"] = data["end"], data["start"]
    response = alice_api.post(WINDOWS, data, format="json")
    assert response.status_code == 400
    assert "end" in response.json()
    assert not MaintenanceWindow.objects.exists()


def test_a_window_covering_nothing_is_refused(alice_api):
    response = alice_api.post(WINDOWS, {**_window_data(), "cis": []}, format="json")
    assert response.status_code == 400
    assert "cis" in response.json()


def test_the_list_filters_by_the_ci_it_lists(victor_api):
    ci = CIFactory()
    window = MaintenanceWindowFactory(cis=[ci])
    MaintenanceWindowFactory(cis=[CIFactory()])
    ids = [row["id"] for row in victor_api.get(WINDOWS, {"ci": ci.pk}).json()["results"]]
    assert ids == [window.pk]
