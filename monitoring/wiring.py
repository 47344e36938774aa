"""What the monitoring app plugs into the apps below it, from ``MonitoringConfig.ready()``:

- the notification events it sends (``itom.notifications.register_event``);
- the CI page's "related objects" panel: the CI's checks with their state (``cmdb.related``);
- the Monitoring navigation entry and the home-page panel (``monitoring.views.home``).
"""

from django.urls import NoReverseMatch, reverse

# The notification events of monitoring (sent by ``monitoring.services.alerts``): once per new
# alert and once per resolved one (not per repeated report). Subscribed webhooks get every one;
# people only when no incident tells them — the CI's owner team for an ``info`` alert (which opens
# no incident), the implementer of the change during which the failure started.
EVENTS = {
    "alert.firing": "Monitoring alert firing",
    "alert.resolved": "Monitoring alert resolved",
}


def connect():
    from cmdb import related
    from itom.notifications import Event, register_event

    for key, label in EVENTS.items():
        register_event(Event(key=key, label=label))
    related.register(
        related.RelatedObjects(
            key="checks",
            title="Monitoring checks",
            permission="monitoring.view_check",
            queryset=checks_of,
            list_url=check_list_url,
            order=5,
            label=check_label,
        )
    )
    from monitoring.views import home

    home.register()


def checks_of(ci):
    from monitoring.models import Check

    return Check.objects.filter(ci=ci).order_by("name", "id")


def check_label(check):
    """How the CI page names a check: with its state ("web ping · Down")."""
    state = check.get_state_display()
    return f"{check.name} · {state}" if check.enabled else f"{check.name} · {state} (disabled)"


def check_list_url(ci):
    try:
        return f"{reverse('monitoring:check_list')}?ci={ci.pk}"
    except NoReverseMatch:
        return None
