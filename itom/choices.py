from django.db import models


class ChangeAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    DELETE = "delete", "Deleted"


class NotificationChannel(models.TextChoices):
    IN_APP = "in_app", "In the portal"
    EMAIL = "email", "E-mail"


class WebhookKind(models.TextChoices):
    JSON = "json", "JSON (signed)"
    CHAT = "chat", "Chat (Slack-compatible)"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
