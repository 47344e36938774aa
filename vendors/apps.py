from django.apps import AppConfig


class VendorsConfig(AppConfig):
    name = "vendors"
    verbose_name = "Vendors and contracts"

    def ready(self):
        from vendors import wiring

        wiring.connect()  # notification events, the CI page's contracts, vendor clock events, navigation
