from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents and problems"

    def ready(self):
        from incidents import wiring
        from incidents.views import home, problems

        wiring.connect()  # slas.events receivers, notification events, the CI page's related objects
        home.register()  # the Incidents navigation entry and the home-page panels
        problems.register()  # navigation of the problem and known-error pages
