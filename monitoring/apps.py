from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        from monitoring import wiring

        wiring.connect()  # notification events, the CI page's checks, navigation, home panel
