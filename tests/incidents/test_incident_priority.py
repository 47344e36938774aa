"""The priority matrix: impact × urgency → priority, kept as data (``PriorityRule``) that
managers edit, with the ITIL default behind it."""

import pytest
from django.core.exceptions import ValidationError

from incidents.choices import DEFAULT_PRIORITY_MATRIX
from incidents.models import PriorityRule
from incidents.services.incidents import priority_for
from tests.factories import open_incident

pytestmark = pytest.mark.django_db

ITIL = [
    # impact, urgency, priority
    (1, 1, 1),
    (1, 2, 2),
    (1, 3, 3),
    (2, 1, 2),
    (2, 2, 3),
    (2, 3, 4),
    (3, 1, 3),
    (3, 2, 4),
    (3, 3, 5),
]


@pytest.mark.parametrize(("impact", "urgency", "priority"), ITIL)
def test_the_seeded_matrix_is_the_itil_one(impact, urgency, priority):
    assert PriorityRule.objects.get(impact=impact, urgency=urgency).priority == priority
    assert priority_for(impact, urgency) == priority
    assert DEFAULT_PRIORITY_MATRIX[(impact, urgency)] == priority


@pytest.mark.parametrize(("impact", "urgency", "priority"), ITIL)
def test_an_incident_takes_its_priority_from_the_matrix(alice, impact, urgency, priority):
    assert open_incident(alice, impact=impact, urgency=urgency).priority == priority


def test_an_edited_cell_applies_to_new_incidents_and_to_the_next_change_of_old_ones(alice):
    before = open_incident(alice, impact=2, urgency=2)
    PriorityRule.objects.filter(impact=2, urgency=2).update(priority=2)
    assert open_incident(alice, impact=2, urgency=2).priority == 2
    before.refresh_from_db()
    assert before.priority == 3  # kept until its impact or urgency changes


def test_numbers_given_as_text_are_accepted():
    assert priority_for("1", " 2 ") == 2


@pytest.mark.parametrize(
    ("impact", "urgency", "fields"),
    [
        (7, 1, {"impact"}),
        (1, 0, {"urgency"}),
        (None, "x", {"impact", "urgency"}),
        (True, 1, {"impact"}),
        (1.5, 1, {"impact"}),
    ],
)
def test_values_off_the_matrix_are_refused_naming_the_field(impact, urgency, fields):
    with pytest.raises(ValidationError) as caught:
        priority_for(impact, urgency)
    assert set(caught.value.message_dict) == fields
    assert "1 - High, 2 - Medium, 3 - Low" in next(iter(caught.value.message_dict.values()))[0]
