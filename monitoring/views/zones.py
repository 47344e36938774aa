"""The zones (read here; managers write them in the admin or the API): each with its queue, its
checks by state, and the command that starts a worker polling it from inside its network."""

from django.db.models import Count, Q
from django.views import generic

from itom.generic import PortalPermissionMixin
from monitoring.choices import PROBLEM_STATES
from monitoring.models import Zone


def worker_command(zone):
    return f"celery -A itom worker -Q {zone.queue}"


class ZoneListView(PortalPermissionMixin, generic.TemplateView):
    model = Zone
    template_name = "monitoring/zone_list.html"

    def get_context_data(self, **kwargs):
        zones = list(
            Zone.objects.annotate(
                check_count=Count("checks"),
                enabled_count=Count("checks", filter=Q(checks__enabled=True)),
                problem_count=Count("checks", filter=Q(checks__enabled=True, checks__state__in=PROBLEM_STATES)),
            ).order_by("name")
        )
        for zone in zones:
            zone.command = worker_command(zone)
        kwargs.update(title="Zones", subnav="zones", zones=zones)
        return super().get_context_data(**kwargs)
