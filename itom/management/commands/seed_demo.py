from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.module_loading import module_has_submodule

from itom.context import acting_as


class Command(BaseCommand):
    help = (
        "Seed a demo estate. Idempotent: run it again and nothing is duplicated. "
        "Each app contributes a ``demo.seed(stdout)`` function, run in INSTALLED_APPS order."
    )

    def handle(self, **options):
        with acting_as(label="command:seed_demo"), transaction.atomic():
            for app_config in apps.get_app_configs():
                if module_has_submodule(app_config.module, "demo"):
                    module = __import__(f"{app_config.name}.demo", fromlist=["seed"])
                    module.seed(self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data is in place."))
