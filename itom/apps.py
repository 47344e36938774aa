from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ItomConfig(AppConfig):
    default = True
    name = "itom"
    verbose_name = "Portal core"

    def ready(self):
        from itom import audit, celery_signals, dashboard, navigation  # noqa: F401  (celery_signals: receivers)
        from itom.views import recent_activity_panel

        audit.connect_audited_models()
        navigation.register(navigation.MenuItem("Dashboard", "home"))
        dashboard.register(
            dashboard.Panel(
                "activity", "Recent activity", "itom/panels/activity.html", recent_activity_panel, order=900, width=12
            )
        )


class PortalAdminConfig(admin_apps.AdminConfig):
    """The Django admin, replaced by the portal's branded site open to managers only."""

    default = False
    default_site = "itom.admin_site.PortalAdminSite"
