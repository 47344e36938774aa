import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from itom.context import acting_as


class Command(BaseCommand):
    help = (
        "Create the superuser USERNAME (default: admin) with a generated password, printed once. "
        "Does nothing when a superuser already exists."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@localhost")

    def handle(self, username, email, **options):
        users = get_user_model()._default_manager
        if users.filter(is_superuser=True).exists():
            self.stdout.write("An administrator already exists; its password is not shown again.")
            return
        password = secrets.token_urlsafe(12)
        with acting_as(label="command:ensure_admin"):
            users.create_superuser(username=username, email=email, password=password)
        self.stdout.write(self.style.SUCCESS(f"Created administrator {username!r} with password: {password}"))
        self.stdout.write("Write it down now: it is not shown again.")
