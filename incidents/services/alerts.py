"""Incidents opened and resolved by monitoring (DESIGN.md §1: ``incidents.open_from_alert``).

There is at most one open incident per alert fingerprint: a partial unique index on
``Incident.alert_fingerprint`` over the open states, so two workers reporting the same problem at
once cannot both open one. The loser's insert fails (``IntegrityError``, or the model's own
constraint check) and it returns the winner's incident instead.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from incidents.choices import OPEN_STATES, IncidentState, ResolutionCode, Source
from incidents.models import Incident


def open_incident_for(fingerprint):
    """The open incident of ``fingerprint``, or None."""
    return Incident.objects.filter(alert_fingerprint=fingerprint, state__in=OPEN_STATES).first()


def open_from_alert(*, fingerprint, title, description="", impact, urgency, affected_cis=(), assignment_team=None):
    """``(incident, created)``: the open incident of ``fingerprint``, opened now (source
    monitoring, priority from the matrix, SLA clocks started, the team notified) unless one is."""
    from incidents.services import incidents

    if not fingerprint:
        raise ValidationError({"alert_fingerprint": "An incident opened from an alert needs its fingerprint."})
    existing = open_incident_for(fingerprint)
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            incident = incidents.create_incident(
                user=None,
                source=Source.MONITORING,
                title=title[:200],
                description=description,
                impact=impact,
                urgency=urgency,
                affected_cis=affected_cis,
                assignment_team=assignment_team,
                alert_fingerprint=fingerprint,
            )
        return incident, True
    except (IntegrityError, ValidationError) as exc:
        # Another worker opened it between our look and our insert (the index said no).
        existing = open_incident_for(fingerprint)
        if existing is None:
            raise exc from None
        return existing, False


def resolve_from_alert(incident, *, note, even_if_assigned=False):
    """Resolve ``incident`` because its alert recovered, unless a person has taken it over (it
    has an assignee): then only a work note. ``even_if_assigned`` resolves it all the same (an
    incident a successful change released to wait for its alerts). Returns whether it resolved."""
    from incidents.services import incidents

    incident = Incident.objects.get(pk=incident.pk)
    if incident.state not in OPEN_STATES:
        return False
    if incident.assignee_id is not None and not even_if_assigned:
        body = f"{note} Left open: {incident.assignee} has taken it over."
        incidents.add_comment(incident, user=None, public=False, body=body)
        return False
    incidents.transition(incident, IncidentState.RESOLVED, user=None, note=note, resolution_code=ResolutionCode.SOLVED)
    return True
