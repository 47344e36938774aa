from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ItomConfig(AppConfig):
    default = True
    name = "itom"
    verbose_name = "Portal core"

    def ready(self):
        from itom import audit, celery_signals, dashboard, navigation  # noqa: F401  (connect receivers)
        from itom.views import recent_activity_panel

        navigation.register(navigation.MenuItem("Dashboard", "home", icon="speedometer"))
        dashboard.register(
            dashboard.Panel(
                "activity", "Recent activity", "itom/panels/activity.html", recent_activity_panel, order=900, width=12
            )
        )


class PortalAdminConfig(admin_apps.AdminConfig):
    default = False
    """The Django admin, replaced by the portal's branded site open to managers only."""

    default_site = "itom.admin_site.PortalAdminSite"
