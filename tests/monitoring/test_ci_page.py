"""The CI page lists the CI's checks with their state, linked to each check and to the check list
filtered by the CI; people without the right to see checks don't see the panel."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.factories import CIFactory, UserFactory
from tests.monitoring.factories import CheckFactory

pytestmark = pytest.mark.django_db


def test_the_ci_page_lists_its_checks_with_their_state(alice_client):
    ci = CIFactory()
    down = CheckFactory(ci=ci, name="db port", state="down")
    CheckFactory(ci=ci, name="web ping", state="up", enabled=False)
    CheckFactory(name="someone else's check")

    page = alice_client.get(reverse("cmdb:ci_detail", args=[ci.pk])).content.decode()

    assert "db port · Down" in page and "web ping · Up (disabled)" in page
    assert "someone else" not in page
    assert down.get_absolute_url() in page
    assert f"{reverse('monitoring:check_list')}?ci={ci.pk}" in page


def test_people_who_may_not_see_checks_do_not_see_the_panel(client):
    ci = CIFactory()
    CheckFactory(ci=ci, name="db port")
    nobody = UserFactory(username="nobody")
    nobody.user_permissions.add(*Permission.objects.filter(codename="view_ci"))
    client.force_login(nobody)

    page = client.get(reverse("cmdb:ci_detail", args=[ci.pk])).content.decode()

    assert "Monitoring checks" not in page and "db port" not in page
