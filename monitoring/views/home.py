"""The Monitoring navigation entry and its home-page panel "Monitoring problems": the checks in a
problem state (worst first) and how many checks are in each state."""

from django.urls import reverse

from itom import dashboard, navigation

PANEL_ROWS = 8  # problems listed in the home-page panel


def problems_panel(request):
    """Everyone who sees checks: the counts by state and the worst problems."""
    from monitoring.views.overview import live_context

    if not request.user.has_perm("monitoring.view_check"):
        return None
    context = live_context(limit=PANEL_ROWS)
    context["url"] = reverse("monitoring:overview")
    context["list_url"] = f"{reverse('monitoring:check_list')}?problem=true"
    return context


def register():
    navigation.register(
        navigation.MenuItem("Monitoring", "monitoring:overview", "monitoring.view_check", section="/monitoring/")
    )
    dashboard.register(
        dashboard.Panel(
            "monitoring_problems", "Monitoring problems", "monitoring/panels/problems.html", problems_panel, order=3
        )
    )
