from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import services
from itom.context import acting_as


class Command(BaseCommand):
    help = "Create an API token for USER and print its key (the last line of output). The key is not stored."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--read-only", action="store_true", help="The token may only read.")
        parser.add_argument("--expires-days", type=int, default=None, help="Expire after N days (default: never).")
        parser.add_argument("--name", default="created with create_api_token", help="What the token is for.")

    def handle(self, username, read_only, expires_days, name, **options):
        user = get_user_model()._default_manager.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive.")
        try:
            with acting_as(label="command:create_api_token"):
                token, key = services.create_api_token(
                    user, name, write_enabled=not read_only, expires_days=expires_days
                )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{f}: {' '.join(m)}" for f, m in exc.message_dict.items())) from None
        access = "read-only" if read_only else "read-write"
        expiry = f"expires {token.expires_at:%Y-%m-%d %H:%M %Z}" if token.expires_at else "does not expire"
        self.stderr.write(f"Created {access} token {token.prefix} for {username}; it {expiry}.")
        self.stdout.write(key)
