"""``/api/v1/monitoring/alerts/``: everyone reads alerts (checks, Alertmanager, events and metric
rules raise them; nobody writes them through the API), filtered by status, severity, source, CI,
check and fingerprint."""

import pytest

from monitoring.api.views import AlertViewSet
from tests.api_testing import ReadOnlyAPIEndpointTests
from tests.factories import CIFactory
from tests.monitoring.factories import AlertFactory, CheckFactory

pytestmark = pytest.mark.django_db

ALERTS = "/api/v1/monitoring/alerts/"


class TestAlertAPI(ReadOnlyAPIEndpointTests):
    viewset = AlertViewSet
    url_name = "api:monitoring-alert"
    make_object = staticmethod(lambda: AlertFactory(ci=CIFactory()))


def test_an_alert_names_its_check_and_ci(victor_api):
    check = CheckFactory()
    alert = AlertFactory(ci=check.ci, monitor=check, fingerprint=f"check:{check.pk}", source="check")
    body = victor_api.get(f"{ALERTS}{alert.pk}/").json()
    assert (body["check"], body["ci"], body["fingerprint"]) == (
        check.pk,
        {"id": check.ci.pk, "name": check.ci.name},
        f"check:{check.pk}",
    )
    assert body["incident"] is None


def test_the_list_filters_by_status_severity_source_check_and_fingerprint(victor_api):
    check = CheckFactory()
    mine = AlertFactory(monitor=check, source="check", severity="critical")
    AlertFactory(status="resolved", severity="critical")
    AlertFactory(source="alertmanager", fingerprint="am:abc")

    def ids(**params):
        return [row["id"] for row in victor_api.get(ALERTS, params).json()["results"]]

    assert ids(check=check.pk) == [mine.pk]
    assert ids(status="firing", severity="critical") == [mine.pk]
    assert len(ids(source="alertmanager")) == 1
    assert len(ids(fingerprint="am:abc")) == 1
    assert ids(q=mine.fingerprint) == [mine.pk]
