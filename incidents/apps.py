from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents and problems"

    def ready(self):
        from incidents import wiring
        from incidents.views import incidents, problems

        wiring.connect()  # slas.events receivers, notification events, the CI page's related objects
        incidents.register()  # navigation and home-page panels of the incident pages
        problems.register()  # navigation of the problem and known-error pages
