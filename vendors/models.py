"""Vendors and their contacts, contracts with their underpinning SLA terms and documents, renewal
reminders, and escalations of incidents to a vendor (with vendor clocks).

Every multi-step operation goes through ``vendors.services`` (DESIGN.md §7).
"""

import datetime as dt

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from incidents.choices import Priority
from itom.models import ChangeLoggedModel, NumberedModel, TimeStampedModel
from vendors.choices import BillingPeriod, ContractType, EscalationState, ReminderKind, VendorStatus


class VendorCategory(ChangeLoggedModel):
    """What a vendor sells: hardware, software, cloud, telecom, services (seeded; managers add more)."""

    name = models.CharField(max_length=50, unique=True)
    slug = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "vendor categories"

    def __str__(self):
        return self.name


class Vendor(ChangeLoggedModel):
    name = models.CharField(max_length=200, unique=True)
    website = models.URLField(blank=True)
    status = models.CharField(max_length=12, choices=VendorStatus.choices, default=VendorStatus.ACTIVE)
    categories = models.ManyToManyField(VendorCategory, blank=True, related_name="vendors")
    support_portal = models.URLField(blank=True, help_text="Where tickets are opened with the vendor.")
    support_phone = models.CharField(max_length=50, blank=True)
    support_email = models.EmailField(blank=True)
    account_manager = models.CharField(max_length=200, blank=True, help_text="The vendor's account manager.")
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("vendors:vendor_detail", args=[self.pk])


class VendorContact(ChangeLoggedModel):
    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    role = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    escalation_level = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1)], help_text="1: first line; higher: whom to call when it drags on."
    )

    class Meta:
        ordering = ["vendor", "escalation_level", "name"]

    def __str__(self):
        return f"{self.name} ({self.vendor})"


class Contract(NumberedModel, ChangeLoggedModel):
    """A contract with a vendor. Its notice deadline is the end date minus the notice period: the
    last day to give notice (to end it, or to renegotiate before it renews by itself)."""

    number_prefix = "CTR"

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="contracts")
    title = models.CharField(max_length=200)
    type = models.CharField(max_length=12, choices=ContractType.choices, default=ContractType.SUPPORT)
    start_date = models.DateField()
    end_date = models.DateField()
    auto_renew = models.BooleanField(default=False, help_text="Renews by itself at the end unless notice is given.")
    renewal_months = models.PositiveSmallIntegerField(
        default=12, validators=[MinValueValidator(1)], help_text="How long each automatic renewal runs."
    )
    notice_days = models.PositiveSmallIntegerField(default=30, help_text="Notice period, in days before the end.")
    cost_amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="EUR", help_text="ISO 4217 code, e.g. EUR, USD, GBP.")
    billing_period = models.CharField(max_length=10, choices=BillingPeriod.choices, default=BillingPeriod.YEARLY)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_contracts"
    )
    covered_cis = models.ManyToManyField("cmdb.CI", blank=True, related_name="contracts", verbose_name="covered CIs")
    support_calendar = models.ForeignKey(
        "slas.BusinessCalendar",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contracts",
        help_text="The vendor's support hours: vendor clocks count only these.",
    )
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["end_date", "number"]
        indexes = [models.Index(fields=["end_date"]), models.Index(fields=["vendor", "end_date"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gt=F("start_date")),
                name="vendors_contract_end_after_start",
                violation_error_message="The end date must be after the start date.",
            ),
            models.CheckConstraint(
                condition=Q(cost_amount__gte=0),
                name="vendors_contract_cost_not_negative",
                violation_error_message="The cost can't be negative.",
            ),
        ]

    def __str__(self):
        return f"{self.number} {self.title}"

    def get_absolute_url(self):
        return reverse("vendors:contract_detail", args=[self.pk])

    def clean(self):
        super().clean()
        errors = {}
        if self.start_date and self.end_date and self.end_date <= self.start_date:
            errors["end_date"] = "The end date must be after the start date."
        if self.cost_amount is not None and self.cost_amount < 0:
            errors["cost_amount"] = "The cost can't be negative."
        if errors:
            raise ValidationError(errors)

    @property
    def notice_deadline(self):
        return self.end_date - dt.timedelta(days=self.notice_days)

    def is_active_on(self, day):
        return self.start_date <= day <= self.end_date


class ContractTerm(ChangeLoggedModel):
    """An underpinning SLA term: the vendor's response and resolution targets for incidents of a
    priority, counted in the contract's support hours."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="terms")
    priority = models.PositiveSmallIntegerField(
        choices=Priority.choices, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    response_minutes = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["contract", "priority"]
        constraints = [models.UniqueConstraint(fields=["contract", "priority"], name="vendors_term_one_per_priority")]

    def __str__(self):
        return f"{self.contract.number} P{self.priority}"


class ContractDocument(TimeStampedModel):
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="documents")
    file = models.FileField(upload_to="contracts/%Y/%m/")
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return self.name


class ContractReminder(models.Model):
    """A reminder sent (or an expiry announced) for one contract and one deadline: the daily task
    sends each once, whatever how often it runs."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=8, choices=ReminderKind.choices)
    deadline = models.DateField(help_text="The notice deadline (or, for an expiry, the end date) it is about.")
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "kind", "deadline"], name="vendors_reminder_once"),
        ]

    def __str__(self):
        return f"{self.contract.number}: {self.get_kind_display()} ({self.deadline})"


class VendorEscalation(ChangeLoggedModel):
    """An incident escalated to a vendor under a contract that covers its CIs: the vendor's ticket
    reference and the vendor clocks (response, resolution) against the contract's terms."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="vendor_escalations")
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="escalations")
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="escalations")
    vendor_ticket = models.CharField(max_length=100, blank=True, help_text="The vendor's own reference.")
    state = models.CharField(max_length=10, choices=EscalationState.choices, default=EscalationState.OPEN)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices)
    escalated_at = models.DateTimeField()
    escalated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    sla_clocks = GenericRelation("slas.SLAClock", related_query_name="vendor_escalation")

    class Meta:
        ordering = ["-escalated_at", "-id"]
        indexes = [models.Index(fields=["vendor", "escalated_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "contract"],
                condition=Q(state__in=["open", "responded"]),
                name="vendors_one_open_escalation_per_contract",
                violation_error_message="This incident is already escalated under this contract.",
            )
        ]

    def __str__(self):
        return f"{self.incident} → {self.vendor}"
