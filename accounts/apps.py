from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from axes.signals import user_locked_out
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_migrate

        from accounts import receivers, selectors
        from itom import audit, dashboard, navigation

        audit.register(get_user_model(), exclude=("password", "last_login"))
        user_locked_out.connect(receivers.log_locked_out, dispatch_uid="accounts.log_locked_out")
        # After every app's migrate (not only accounts'): Django creates an app's permissions in its
        # own post_migrate, so apps listed after accounts get theirs granted on their turn.
        post_migrate.connect(_sync_roles_after_migrate, dispatch_uid="accounts.sync_roles")
        navigation.register(navigation.MenuItem("Teams", "accounts:team_list", permission="accounts.view_team"))
        dashboard.register(
            dashboard.Panel(
                "teams",
                "Your teams",
                "accounts/panels/teams.html",
                lambda request: {"teams": selectors.teams_of(request.user)},
                order=10,
            )
        )
        dashboard.register(
            dashboard.Panel(
                "tokens",
                "Your API tokens",
                "accounts/panels/tokens.html",
                lambda request: {"tokens": selectors.active_tokens_of(request.user)[:10]},
                order=20,
            )
        )


def _sync_roles_after_migrate(sender, **kwargs):
    """Grant the roles the permissions of apps migrated after accounts' data migration."""
    from itom.roles import sync_roles

    sync_roles()
