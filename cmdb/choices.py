from django.db import models


class Status(models.TextChoices):
    """A CI's lifecycle."""

    PLANNED = "planned", "Planned"
    ORDERED = "ordered", "Ordered"
    IN_STOCK = "in_stock", "In stock"
    ACTIVE = "active", "Active"
    MAINTENANCE = "maintenance", "Maintenance"
    RETIRED = "retired", "Retired"


class Environment(models.TextChoices):
    PRODUCTION = "production", "Production"
    STAGING = "staging", "Staging"
    TEST = "test", "Test"
    DEVELOPMENT = "development", "Development"
    DISASTER_RECOVERY = "disaster_recovery", "Disaster recovery"


class Criticality(models.IntegerChoices):
    """How much the business suffers when the CI fails: 1 is the worst."""

    CRITICAL = 1, "1 – Critical"
    HIGH = 2, "2 – High"
    MEDIUM = 3, "3 – Medium"
    LOW = 4, "4 – Low"


class AttributeType(models.TextChoices):
    """The types a class's attribute schema may use (see ``cmdb.schema``)."""

    STRING = "string", "Text"
    INTEGER = "integer", "Whole number"
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Yes/no"
    DATE = "date", "Date (YYYY-MM-DD)"
    CHOICE = "choice", "Choice"
    IP = "ip", "IP address"


class Direction(models.TextChoices):
    """Impact analysis: downstream = what is affected when the CI fails; upstream = what it needs."""

    DOWNSTREAM = "downstream", "Downstream (affected when it fails)"
    UPSTREAM = "upstream", "Upstream (what it needs)"
