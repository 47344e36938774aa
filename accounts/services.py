"""Every state change of accounts: tokens and teams. Views, API, admin and tasks call these."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import APIToken, Team


def create_api_token(user, name, write_enabled=True, expires_days=None):
    """Create a token for ``user``; returns ``(token, key)``. The key is never stored."""
    if expires_days is not None and expires_days < 1:
        raise ValidationError({"expires_days": "Must be at least 1 day."})
    prefix = secrets.token_hex(4)
    key = f"{APIToken.KEY_LABEL}_{prefix}_{secrets.token_urlsafe(32)}"
    token = APIToken(
        user=user,
        name=name,
        prefix=prefix,
        key_hash=APIToken.hash_key(key),
        write_enabled=write_enabled,
        expires_at=timezone.now() + timedelta(days=expires_days) if expires_days else None,
    )
    token.full_clean()
    token.save()
    return token, key


def authenticate_api_key(key):
    """The active token matching ``key``, or None. Records its use at most once a minute."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != APIToken.KEY_LABEL:
        return None
    token = APIToken.objects.active().select_related("user").filter(prefix=parts[1]).first()
    if token is None or not token.matches(key) or not token.user.is_active:
        return None
    now = timezone.now()
    resolution = timedelta(seconds=settings.API_TOKEN_LAST_USED_RESOLUTION)
    if token.last_used_at is None or now - token.last_used_at > resolution:
        # last_used_at is bookkeeping, not an audited change: a plain UPDATE, no signal.
        APIToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def revoke_api_token(token):
    token.delete()


@transaction.atomic
def save_team(team, members=None):
    """Validate and save a team (new or existing) and, if given, set its members."""
    team.full_clean()
    team.save()
    if members is not None:
        team.members.set(members)
    return team


@transaction.atomic
def import_teams(rows):
    """Create or update teams from ``[{"name", "email", "description", "lead"}]`` by name.

    All or nothing: an invalid row raises ``ValidationError`` naming the row and field, and no
    team is written. Returns ``(created, updated)`` counts.
    """
    from django.contrib.auth import get_user_model

    users = get_user_model()._default_manager
    created = updated = 0
    errors = {}
    for index, row in enumerate(rows):
        name = (row.get("name") or "").strip()
        team = Team.objects.filter(name=name).first() or Team(name=name)
        is_new = team.pk is None
        for field in ("email", "description"):
            if field in row:
                setattr(team, field, row[field] or "")
        if row.get("lead"):
            team.lead = users.filter(username=row["lead"]).first()
            if team.lead is None:
                errors[f"rows[{index}].lead"] = [f"No user named {row['lead']!r}."]
                continue
        try:
            save_team(team)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors[f"rows[{index}].{field}"] = messages
            continue
        created += is_new
        updated += not is_new
    if errors:
        raise ValidationError(errors)
    return created, updated
