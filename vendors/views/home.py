"""The Vendors navigation entry and the incident page's actions: "Escalate to vendor" (open
incidents) and "Vendor escalation" (to the escalation awaiting the vendor, when there is one)."""

from django.urls import reverse

from itom import navigation


def _escalate_url(incident):
    return f"{reverse('vendors:escalation_add')}?incident={incident.pk}"


def _incident_is_open(incident):
    from incidents.choices import OPEN_STATES

    return incident.state in OPEN_STATES


def _live_escalation(incident):
    from vendors.choices import EscalationState

    return (
        incident.vendor_escalations.filter(state__in=(EscalationState.OPEN, EscalationState.RESPONDED))
        .order_by("-escalated_at", "-pk")
        .first()
    )


def _live_escalation_url(incident):
    escalation = _live_escalation(incident)
    return reverse("vendors:escalation_detail", args=[escalation.pk]) if escalation else ""


def register():
    """Register the navigation entry and the incident page's actions."""
    from incidents import extensions

    navigation.register(
        navigation.MenuItem("Vendors", "vendors:vendor_list", permission="vendors.view_vendor", section="/vendors/")
    )
    extensions.register(
        extensions.IncidentAction(
            key="escalate_to_vendor",
            label="Escalate to vendor",
            url=_escalate_url,
            permission="vendors.add_vendorescalation",
            visible=_incident_is_open,
            order=20,
        )
    )
    extensions.register(
        extensions.IncidentAction(
            key="vendor_escalation",
            label="Vendor escalation",
            url=_live_escalation_url,
            permission="vendors.view_vendorescalation",
            visible=lambda incident: _live_escalation(incident) is not None,
            style="outline-secondary",
            order=21,
        )
    )
