"""What the changes app plugs into the apps below it, from ``ChangesConfig.ready()``:

- the notification events it sends (``itom.notifications.register_event``);
- the CI page's "related objects" panel: the open changes that touch the CI, directly or as an
  impacted CI (``cmdb.related``);
- the incident page's "Request change" action (``incidents.extensions``);
- the Changes navigation entries and the home-page panels (``changes.views.home``).
"""

from django.db.models import Q
from django.urls import NoReverseMatch, reverse


def connect():
    from changes.notifications import EVENTS
    from cmdb import related
    from itom.notifications import Event, register_event

    for key, label in EVENTS.items():
        register_event(Event(key=key, label=label))
    related.register(
        related.RelatedObjects(
            key="changes",
            title="Open changes",
            permission="changes.view_changerequest",
            queryset=open_changes_of,
            list_url=change_list_url,
            order=20,
        )
    )
    from changes.views import home

    home.register()


def open_changes_of(ci):
    from changes.choices import OPEN_STATES
    from changes.models import ChangeRequest

    through_cis = ChangeRequest.affected_cis.through.objects.filter(ci_id=ci.pk).values("changerequest_id")
    through_impacted = ChangeRequest.impacted_cis.through.objects.filter(ci_id=ci.pk).values("changerequest_id")
    return (
        ChangeRequest.objects.filter(state__in=OPEN_STATES)
        .filter(Q(pk__in=through_cis) | Q(pk__in=through_impacted))
        .order_by("planned_start", "-created_at")
    )


def change_list_url(ci):
    try:
        return f"{reverse('changes:change_list')}?ci={ci.pk}"
    except NoReverseMatch:  # the change pages are not installed
        return None
