"""Vendor management's choices."""

from django.db import models


class VendorStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PROSPECTIVE = "prospective", "Prospective"
    INACTIVE = "inactive", "Inactive"


class ContractType(models.TextChoices):
    SUPPORT = "support", "Support"
    MAINTENANCE = "maintenance", "Maintenance"
    LICENCE = "licence", "Licence"
    SAAS = "saas", "SaaS subscription"
    LEASE = "lease", "Lease"
    WARRANTY = "warranty", "Warranty"


# The contract types that make a vendor answer for a CI when it fails (the "production CIs with no
# active support contract" list, and escalation from an incident).
SUPPORT_TYPES = (ContractType.SUPPORT, ContractType.MAINTENANCE, ContractType.SAAS, ContractType.WARRANTY)


class BillingPeriod(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    YEARLY = "yearly", "Yearly"
    ONE_OFF = "one_off", "One-off (whole term)"


# How many times a year a cost of each billing period is paid (one-off: spread over the term).
PAYMENTS_PER_YEAR = {BillingPeriod.MONTHLY: 12, BillingPeriod.QUARTERLY: 4, BillingPeriod.YEARLY: 1}


class ReminderKind(models.TextChoices):
    DAYS_90 = "90", "90 days before the notice deadline"
    DAYS_60 = "60", "60 days before the notice deadline"
    DAYS_30 = "30", "30 days before the notice deadline"
    EXPIRED = "expired", "Expired"


# Days before the notice deadline at which the owner is reminded, most distant first.
REMINDER_DAYS = {ReminderKind.DAYS_90: 90, ReminderKind.DAYS_60: 60, ReminderKind.DAYS_30: 30}


class EscalationState(models.TextChoices):
    OPEN = "open", "Awaiting the vendor"
    RESPONDED = "responded", "Vendor responded"
    RESOLVED = "resolved", "Vendor resolved"
    CANCELED = "canceled", "Withdrawn"
