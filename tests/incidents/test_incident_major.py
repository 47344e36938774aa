"""Major incidents: promote, link children, updates that reach the children's timelines,
resolving the children — through the services and the API."""

import pytest
from django.core.exceptions import ValidationError

from incidents.choices import TimelineKind
from incidents.models import TimelineEntry
from incidents.services import incidents as services
from itom.api.exceptions import Conflict
from tests.factories import open_incident

pytestmark = pytest.mark.django_db

INCIDENTS = "/api/v1/incidents/"


@pytest.fixture
def outage(alice):
    """A major incident with two children."""
    parent = services.promote_major(open_incident(alice, title="Data centre power loss"), user=alice)
    children = [open_incident(alice, title=f"Cannot reach app {n}") for n in (1, 2)]
    for child in children:
        services.link_child(parent, child, user=alice)
    return parent, children


def test_promoting_marks_it_major_and_says_so(alice):
    incident = services.promote_major(open_incident(alice), user=alice)
    assert incident.is_major
    assert incident.timeline.filter(kind=TimelineKind.MAJOR, body="Promoted to major incident.").exists()


def test_promoting_twice_or_a_closed_one_or_a_child_is_refused(alice, outage):
    parent, (child, _) = outage
    with pytest.raises(Conflict, match="already a major incident"):
        services.promote_major(parent, user=alice)
    with pytest.raises(Conflict, match="unlink it first"):
        services.promote_major(child, user=alice)
    done = open_incident(alice)
    services.transition(done, "canceled", user=alice)
    with pytest.raises(Conflict, match="only an open incident"):
        services.promote_major(done, user=alice)


def test_linking_a_child_records_it_on_both_timelines(alice, outage):
    parent, (child, _) = outage
    child.refresh_from_db()
    assert child.parent == parent
    assert set(parent.children.all()) == set(outage[1])
    assert child.timeline.filter(kind=TimelineKind.LINK, body__contains=parent.number).exists()
    assert parent.timeline.filter(kind=TimelineKind.LINK, body__contains=child.number).exists()


def test_linking_twice_is_harmless(alice, outage):
    parent, (child, _) = outage
    before = TimelineEntry.objects.count()
    services.link_child(parent, child, user=alice)
    assert TimelineEntry.objects.count() == before


@pytest.mark.parametrize("case", ["not_major", "self", "major_child", "closed_child", "other_parent"])
def test_links_that_make_no_sense_are_refused(alice, outage, case):
    parent, (child, _) = outage
    plain = open_incident(alice)
    if case == "not_major":
        target, kid, error = plain, open_incident(alice), ValidationError
    elif case == "self":
        target, kid, error = parent, parent, ValidationError
    elif case == "major_child":
        target, kid, error = parent, services.promote_major(plain, user=alice), ValidationError
    elif case == "closed_child":
        services.transition(plain, "canceled", user=alice)
        target, kid, error = parent, plain, ValidationError
    else:
        other = services.promote_major(open_incident(alice), user=alice)
        target, kid, error = other, child, Conflict
    with pytest.raises(error):
        services.link_child(target, kid, user=alice)


def test_unlinking_takes_the_child_out(alice, outage):
    parent, (child, other) = outage
    services.unlink_child(child, user=alice)
    child.refresh_from_db()
    assert child.parent is None
    assert list(parent.children.all()) == [other]
    with pytest.raises(Conflict):
        services.unlink_child(child, user=alice)


def test_an_update_on_the_parent_reaches_every_childs_timeline(alice, outage):
    parent, children = outage
    entry = services.post_major_update(parent, user=alice, body="Generators are starting.")
    assert (entry.kind, entry.public, entry.incident_id) == (TimelineKind.MAJOR, True, parent.pk)
    for child in children:
        copy = child.timeline.get(origin=entry)
        assert (copy.body, copy.kind, copy.author, copy.public) == ("Generators are starting.", "major", alice, True)
        assert copy.data["number"] == parent.number


def test_updates_need_a_major_incident_and_words(alice, outage):
    with pytest.raises(Conflict):
        services.post_major_update(open_incident(alice), user=alice, body="Hello")
    with pytest.raises(ValidationError):
        services.post_major_update(outage[0], user=alice, body="  ")


def test_resolving_the_children_resolves_those_that_may_be_and_counts_them(alice, outage):
    parent, (first, second) = outage
    services.transition(second, "canceled", user=alice)
    resolved = services.resolve_children(parent, user=alice, resolution_code="solved", note="Power restored.")
    assert resolved == 1
    first.refresh_from_db()
    assert (first.state, first.resolution_code, first.resolution_notes) == ("resolved", "solved", "Power restored.")
    second.refresh_from_db()
    assert second.state == "canceled"
    assert parent.timeline.filter(kind=TimelineKind.MAJOR, data__resolved_children=1).exists()
    parent.refresh_from_db()
    assert parent.state == "new"  # the parent itself is resolved on its own


def test_resolving_children_needs_a_code_and_notes_and_writes_nothing_without(alice, outage):
    parent, (child, _) = outage
    with pytest.raises(ValidationError) as caught:
        services.resolve_children(parent, user=alice, resolution_code="", note="")
    assert {"resolution_code", "note"} <= set(caught.value.message_dict)
    child.refresh_from_db()
    assert child.state == "new"


def test_a_child_may_be_linked_when_it_is_opened(alice, outage):
    parent, _ = outage
    child = open_incident(alice, parent=parent)
    assert child.parent == parent
    assert child.timeline.filter(kind=TimelineKind.LINK).exists()
    with pytest.raises(ValidationError) as caught:
        open_incident(alice, parent=open_incident(alice))
    assert "not a major incident" in caught.value.message_dict["parent"][0]


# --- through the API --------------------------------------------------------------------------


def test_the_whole_major_incident_flow_through_the_api(alice_api, alice):
    parent = open_incident(alice, title="Storage array degraded")
    child = open_incident(alice, title="VM slow")
    base = f"{INCIDENTS}{parent.pk}/"

    assert alice_api.post(f"{base}promote/").json()["is_major"] is True
    linked = alice_api.post(f"{base}children/", {"incident": child.number}, format="json")
    assert linked.status_code == 201, linked.content
    assert alice_api.get(f"{base}children/").json()["results"][0]["number"] == child.number
    update = alice_api.post(f"{base}major-update/", {"body": "Vendor engineer on site."}, format="json")
    assert update.status_code == 201
    child_timeline = alice_api.get(f"{INCIDENTS}{child.pk}/timeline/", {"kind": "major"}).json()["results"]
    assert [entry["body"] for entry in child_timeline] == ["Vendor engineer on site."]
    assert child_timeline[0]["origin"] == update.json()["id"]
    resolved = alice_api.post(
        f"{base}resolve-children/", {"resolution_code": "solved", "note": "Array rebuilt."}, format="json"
    )
    assert resolved.json() == {"resolved": 1}
    assert alice_api.delete(f"{base}children/{child.pk}/").status_code == 204
    child.refresh_from_db()
    assert child.parent is None
    assert alice_api.delete(f"{base}children/{child.pk}/").status_code == 404


def test_api_refusals_are_409s_and_400s(alice_api, alice):
    plain = open_incident(alice)
    assert alice_api.post(f"{INCIDENTS}{plain.pk}/major-update/", {"body": "x"}, format="json").status_code == 409
    response = alice_api.post(f"{INCIDENTS}{plain.pk}/children/", {"incident": open_incident(alice).pk}, format="json")
    assert response.status_code == 400 and "parent" in response.json()
    response = alice_api.post(f"{INCIDENTS}{plain.pk}/children/", {"incident": "INC0999999"}, format="json")
    assert response.status_code == 400 and "incident" in response.json()


def test_patching_parent_links_and_null_unlinks(alice_api, alice):
    parent = services.promote_major(open_incident(alice), user=alice)
    child = open_incident(alice)
    response = alice_api.patch(f"{INCIDENTS}{child.pk}/", {"parent": parent.number}, format="json")
    assert response.status_code == 200 and response.json()["parent"] == parent.pk
    response = alice_api.patch(f"{INCIDENTS}{child.pk}/", {"parent": None}, format="json")
    assert response.json()["parent"] is None
