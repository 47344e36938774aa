"""The monitoring lists (API and pages) cost the same number of queries whatever the number of
rows (STYLE.md: no query per row). Each row carries what the list shows of it: a check its CI,
zone and open alert; an alert its CI, check, integration and incident; a window its CIs,
classes and tags; a rule its CI."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import CIClassFactory, CIFactory, IncidentFactory
from tests.monitoring.factories import (
    AlertFactory,
    CheckFactory,
    IntegrationFactory,
    MaintenanceWindowFactory,
    MetricRuleFactory,
    ZoneFactory,
)

pytestmark = pytest.mark.django_db


def add_rows(n):
    for _ in range(n):
        ci = CIFactory()
        zone = ZoneFactory()
        check = CheckFactory(ci=ci, zone=zone, state="down")
        integration = IntegrationFactory()
        AlertFactory(ci=ci, monitor=check, integration=integration, incident=IncidentFactory())
        MaintenanceWindowFactory(cis=[ci], ci_classes=[CIClassFactory()], tags=[f"tag-{ci.pk}"])
        MetricRuleFactory(ci=ci)


def queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


URLS = [
    "/api/v1/monitoring/zones/",
    "/api/v1/monitoring/checks/",
    "/api/v1/monitoring/alerts/",
    "/api/v1/monitoring/maintenance/",
    "/api/v1/monitoring/integrations/",
    "/api/v1/monitoring/rules/",
    "/monitoring/",
    "/monitoring/overview/live/",
    "/monitoring/checks/",
    "/monitoring/alerts/",
    "/monitoring/maintenance/",
    "/monitoring/integrations/",
    "/monitoring/rules/",
    "/monitoring/zones/",
]


@pytest.mark.parametrize("url", URLS)
def test_a_list_runs_as_many_queries_for_ten_rows_as_for_two(maria_client, url):
    add_rows(2)
    few = queries(maria_client, url)
    add_rows(8)
    many = queries(maria_client, url)
    assert many == few, url
