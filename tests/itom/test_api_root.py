"""The API root links every resource, and each link answers."""

import pytest
from django.urls import reverse

from itom.api.root import APIRootView

pytestmark = pytest.mark.django_db


def test_the_root_links_every_resource_and_every_link_answers(maria_api):
    body = maria_api.get(reverse("api:api-root")).json()
    assert set(body) == set(APIRootView.links)
    assert {"teams", "cmdb/cis", "cmdb/classes", "cmdb/relationships"} <= set(body)
    post_only = {"cmdb/import", "cmdb/import/facts"}
    for key, url in body.items():
        assert maria_api.get(url).status_code == (405 if key in post_only else 200), key


def test_the_root_needs_a_signed_in_caller(anon):
    assert anon.get(reverse("api:api-root")).status_code in (401, 403)
