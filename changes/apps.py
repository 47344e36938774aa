from django.apps import AppConfig


class ChangesConfig(AppConfig):
    name = "changes"
    verbose_name = "Change management"

    def ready(self):
        from changes import wiring

        wiring.connect()  # notification events, the CI page's related changes, navigation, home panels
