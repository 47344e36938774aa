import hashlib
import hmac

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from itom.models import ChangeLoggedModel


class Team(ChangeLoggedModel):
    """An assignment group: incidents, changes and CIs are owned by teams."""

    name = models.CharField(max_length=100, unique=True)
    email = models.EmailField(blank=True, help_text="The team's shared mailbox for notifications.")
    description = models.TextField(blank=True)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="led_teams"
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="teams")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("accounts:team_detail", args=[self.pk])


class APITokenQuerySet(models.QuerySet):
    def active(self):
        now = timezone.now()
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))


class APIToken(ChangeLoggedModel):
    """An API key, stored as a SHA-256 hash: the plain key is shown once, when it is created.

    Keys look like ``itom_<prefix>_<secret>``; the prefix finds the row, the hash proves the key.
    Keys carry 256 bits of randomness, so an unsalted hash is safe and fast to check.
    """

    KEY_LABEL = "itom"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. the integration's name.")
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    write_enabled = models.BooleanField(default=True, help_text="Off: the token may only read.")
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    audit_exclude = ("key_hash", "last_used_at")
    objects = APITokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self):
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @staticmethod
    def hash_key(key):
        return hashlib.sha256(key.encode()).hexdigest()

    def matches(self, key):
        return hmac.compare_digest(self.key_hash, self.hash_key(key))
