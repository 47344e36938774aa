"""The vendor lists (API and pages) cost the same number of queries whatever the number of rows
(STYLE.md: no query per row)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import CIFactory
from tests.vendors.escalating import contract, incident_on, vendor
from vendors.services.escalations import escalate

pytestmark = pytest.mark.django_db


def add_rows(n, user):
    for i in range(n):
        ci = CIFactory(name=f"covered-{contract_count()}-{i}")
        covering = contract([ci], supplier=vendor(f"Vendor {contract_count()}-{i}"), title=f"Support {i}")
        escalate(incident_on(ci), user=user, contract=covering, vendor_ticket=f"T-{i}")


def contract_count():
    from vendors.models import Contract

    return Contract.objects.count()


def queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


URLS = [
    "/api/v1/vendors/",
    "/api/v1/vendors/contacts/",
    "/api/v1/vendors/contracts/",
    "/api/v1/vendors/escalations/",
    "/vendors/",
    "/vendors/contracts/",
    "/vendors/contracts/renewals/?days=365",
    "/vendors/unsupported-cis/",
]


@pytest.mark.parametrize("url", URLS)
def test_a_list_runs_as_many_queries_for_ten_rows_as_for_two(maria_client, maria, alice, url):
    add_rows(2, alice)
    few = queries(maria_client, url)
    add_rows(8, alice)
    many = queries(maria_client, url)
    assert many == few, url
