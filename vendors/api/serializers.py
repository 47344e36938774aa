"""Serializers of ``/api/v1/vendors/…``.

Vendors, contacts and contracts are read with their related objects in brief (``{"id", "name"}``,
``{"id", "username", "full_name"}``) and written with related objects as an id or a natural key
(a vendor by name, a user by username, a calendar by name, a category by slug, an incident and a
contract by number). The serializers check field types and choices; the whole write (end after
start, cost not negative, ISO 4217 currency, one term per priority, who may write) is validated by
``vendors.services``, whose errors become 400s naming the field. An escalation embeds its vendor
clocks (``sla``) the way an incident embeds its SLA clocks.
"""

from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from rest_framework import serializers
from rest_framework.reverse import reverse as api_reverse

from accounts.api.serializers import BriefUserSerializer
from cmdb.api.serializers import BriefCISerializer, IdOrSlugRelatedField
from cmdb.models import CI
from incidents.api.serializers import BriefIncidentSerializer, IncidentRelatedField
from incidents.choices import Priority
from incidents.models import Incident
from itom.api.serializers import web_url
from slas.api.serializers import BriefCalendarSerializer, SLAClockSerializer
from slas.models import BusinessCalendar
from vendors.choices import BillingPeriod, ContractType, EscalationState, VendorStatus
from vendors.models import (
    Contract,
    ContractDocument,
    ContractTerm,
    Vendor,
    VendorCategory,
    VendorContact,
    VendorEscalation,
)

User = get_user_model()


def choice_field(name, choices, **kwargs):
    values = ", ".join(str(value) for value in choices.values)
    return serializers.ChoiceField(
        choices=choices.choices,
        error_messages={"invalid_choice": f"{name} must be one of {values}; got “{{input}}”."},
        **kwargs,
    )


class ContractRelatedField(IdOrSlugRelatedField):
    """A contract read as its id and written as its id or its number (``CTR0000042``)."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="number", **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str) and not data.strip().isdigit():
            data = data.strip().upper()
        return super().to_internal_value(data)


def vendor_field(**kwargs):
    options = {"queryset": Vendor.objects.all(), "help_text": "Id or name.", **kwargs}
    return IdOrSlugRelatedField(slug_field="name", **options)


# --- brief forms ----------------------------------------------------------------------------------


class BriefVendorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Vendor
        fields = ["id", "name"]


class BriefContractSerializer(serializers.ModelSerializer):
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = Contract
        fields = ["id", "number", "title", "type", "start_date", "end_date", "web_url"]

    def get_web_url(self, contract) -> str:
        return web_url(contract)


class VendorCategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = VendorCategory
        fields = ["id", "name", "slug"]


# --- vendors and contacts ---------------------------------------------------------------------------


class BriefContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = VendorContact
        fields = ["id", "name", "role", "email", "phone", "escalation_level"]


class VendorSerializer(serializers.ModelSerializer):
    """A vendor with its categories and contacts (``contacts``, read-only: write them at
    ``/api/v1/vendors/contacts/``)."""

    display = serializers.SerializerMethodField(help_text="The vendor's name.")
    status = choice_field("status", VendorStatus, required=False)
    categories = IdOrSlugRelatedField(
        queryset=VendorCategory.objects.all(), many=True, required=False, help_text="Ids or slugs."
    )
    category_names = serializers.SlugRelatedField(source="categories", slug_field="name", many=True, read_only=True)
    contacts = BriefContactSerializer(many=True, read_only=True, help_text="Lowest escalation level first.")
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = Vendor
        fields = [
            "id",
            "display",
            "name",
            "website",
            "status",
            "categories",
            "category_names",
            "support_portal",
            "support_phone",
            "support_email",
            "account_manager",
            "notes",
            "contacts",
            "web_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def get_display(self, vendor) -> str:
        return str(vendor)

    def get_web_url(self, vendor) -> str:
        return web_url(vendor)


class VendorContactSerializer(serializers.ModelSerializer):
    """A contact person at a vendor. The vendor is given on creation (id or name); a contact stays
    with its vendor."""

    display = serializers.SerializerMethodField()
    vendor = vendor_field()

    class Meta:
        model = VendorContact
        fields = [
            "id",
            "display",
            "vendor",
            "name",
            "role",
            "email",
            "phone",
            "escalation_level",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def get_display(self, contact) -> str:
        return str(contact)

    def validate_vendor(self, vendor):
        if self.instance is not None and vendor.pk != self.instance.vendor_id:
            raise serializers.ValidationError("A contact stays with its vendor: add a contact to the other one.")
        return vendor


# --- contracts -------------------------------------------------------------------------------------


class ContractTermSerializer(serializers.ModelSerializer):
    """The vendor's targets for incidents of one priority, in business minutes of the support
    hours (null: no target)."""

    priority = choice_field("priority", Priority)
    response_minutes = serializers.IntegerField(min_value=1, allow_null=True, required=False)
    resolution_minutes = serializers.IntegerField(min_value=1, allow_null=True, required=False)

    class Meta:
        model = ContractTerm
        fields = ["priority", "response_minutes", "resolution_minutes"]
        validators = []  # one term per priority: checked by vendors.services (a 400 on "terms")


class ContractDocumentSerializer(serializers.ModelSerializer):
    uploaded_by = BriefUserSerializer(read_only=True, allow_null=True)
    download_url = serializers.SerializerMethodField(help_text="The file, for API clients (token).")
    web_url = serializers.SerializerMethodField(help_text="The file, for a signed-in browser.")

    class Meta:
        model = ContractDocument
        fields = ["id", "name", "content_type", "size", "uploaded_by", "created_at", "download_url", "web_url"]
        read_only_fields = fields

    def get_download_url(self, document) -> str:
        return api_reverse(
            "api:vendor-contract-document-download",
            args=[document.contract_id, document.pk],
            request=self.context.get("request"),
        )

    def get_web_url(self, document) -> str:
        try:
            return reverse("vendors:contract_document", args=[document.pk])
        except NoReverseMatch:
            return ""


class DocumentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, use_url=False)


class ContractSerializer(serializers.ModelSerializer):
    """A contract as the API answers it (``ContractWriteSerializer`` is what it accepts)."""

    display = serializers.SerializerMethodField(help_text="The contract's number and title.")
    vendor = BriefVendorSerializer(read_only=True)
    owner = BriefUserSerializer(read_only=True, allow_null=True)
    covered_cis = BriefCISerializer(many=True, read_only=True)
    support_calendar = BriefCalendarSerializer(read_only=True, allow_null=True)
    terms = ContractTermSerializer(many=True, read_only=True)
    notice_deadline = serializers.DateField(
        read_only=True, help_text="The last day to give notice: the end date minus the notice period."
    )
    active = serializers.SerializerMethodField(help_text="Running today (start ≤ today ≤ end).")
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = Contract
        fields = [
            "id",
            "number",
            "display",
            "vendor",
            "title",
            "type",
            "start_date",
            "end_date",
            "auto_renew",
            "renewal_months",
            "notice_days",
            "notice_deadline",
            "active",
            "cost_amount",
            "currency",
            "billing_period",
            "owner",
            "covered_cis",
            "support_calendar",
            "terms",
            "notes",
            "web_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_display(self, contract) -> str:
        return str(contract)

    def get_active(self, contract) -> bool:
        return contract.is_active_on(self.context.get("today") or timezone.localdate())

    def get_web_url(self, contract) -> str:
        return web_url(contract)


class ContractWriteSerializer(serializers.Serializer):
    """What ``POST /api/v1/vendors/contracts/`` and ``PATCH …/{id}/`` accept. ``terms``, when
    given, replaces the contract's terms (one per priority)."""

    vendor = vendor_field(required=False, help_text="Id or name; required on creation, fixed afterwards.")
    title = serializers.CharField(max_length=200, required=False, help_text="Required on creation.")
    type = choice_field("type", ContractType, required=False)
    start_date = serializers.DateField(required=False, help_text="Required on creation.")
    end_date = serializers.DateField(required=False, help_text="Required on creation; after the start.")
    auto_renew = serializers.BooleanField(required=False)
    renewal_months = serializers.IntegerField(min_value=1, max_value=120, required=False)
    notice_days = serializers.IntegerField(min_value=0, max_value=3650, required=False)
    cost_amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, help_text="Per billing period; not negative."
    )
    currency = serializers.CharField(max_length=10, required=False, help_text="ISO 4217 code, e.g. EUR or USD.")
    billing_period = choice_field("billing_period", BillingPeriod, required=False)
    owner = IdOrSlugRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        allow_null=True,
        required=False,
        help_text="Id or username: who is reminded of renewals.",
    )
    covered_cis = serializers.PrimaryKeyRelatedField(queryset=CI.objects.all(), many=True, required=False)
    support_calendar = IdOrSlugRelatedField(
        slug_field="name",
        queryset=BusinessCalendar.objects.all(),
        allow_null=True,
        required=False,
        help_text="Id or name: the vendor's support hours, in which vendor clocks run.",
    )
    terms = ContractTermSerializer(many=True, required=False)
    notes = serializers.CharField(allow_blank=True, required=False)

    required_on_create = ("vendor", "title", "start_date", "end_date")

    def validate(self, attrs):
        if self.instance is None:
            missing = {name: ["This field is required."] for name in self.required_on_create if name not in attrs}
            if missing:
                raise serializers.ValidationError(missing)
        elif "vendor" in attrs:
            if attrs["vendor"].pk != self.instance.vendor_id:
                raise serializers.ValidationError({"vendor": ["A contract stays with its vendor."]})
            attrs.pop("vendor")
        if "terms" in attrs:
            attrs["terms"] = [dict(term) for term in attrs["terms"]]
        return attrs


# --- escalations -----------------------------------------------------------------------------------


class VendorEscalationSerializer(serializers.ModelSerializer):
    """An incident escalated to a vendor, with its vendor clocks (``sla``: response and
    resolution, against the contract's terms in its support hours)."""

    display = serializers.SerializerMethodField()
    incident = BriefIncidentSerializer(read_only=True)
    contract = BriefContractSerializer(read_only=True)
    vendor = BriefVendorSerializer(read_only=True)
    state = serializers.ChoiceField(choices=EscalationState.choices, read_only=True)
    escalated_by = BriefUserSerializer(read_only=True, allow_null=True)
    sla = SLAClockSerializer(source="sla_clocks", many=True, read_only=True)
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = VendorEscalation
        fields = [
            "id",
            "display",
            "incident",
            "contract",
            "vendor",
            "vendor_ticket",
            "state",
            "priority",
            "escalated_at",
            "escalated_by",
            "responded_at",
            "resolved_at",
            "note",
            "sla",
            "web_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_display(self, escalation) -> str:
        return str(escalation)

    def get_web_url(self, escalation) -> str:
        """The escalation's page, else (no vendor pages installed) its incident's."""
        try:
            return reverse("vendors:escalation_detail", args=[escalation.pk])
        except NoReverseMatch:
            return web_url(escalation.incident)


class EscalateSerializer(serializers.Serializer):
    """``POST /api/v1/vendors/escalations/``: escalate an open incident under a contract that
    covers one of its CIs."""

    incident = IncidentRelatedField(queryset=Incident.objects.all(), help_text="Id or number.")
    contract = ContractRelatedField(queryset=Contract.objects.all(), help_text="Id or number.")
    vendor_ticket = serializers.CharField(max_length=100, allow_blank=True, default="")
    note = serializers.CharField(allow_blank=True, default="")


class EscalationEventSerializer(serializers.Serializer):
    """The vendor responded or resolved: when (default now) and a note."""

    at = serializers.DateTimeField(required=False, allow_null=True, default=None, help_text="Default: now.")
    note = serializers.CharField(allow_blank=True, default="")


class WithdrawSerializer(serializers.Serializer):
    note = serializers.CharField(allow_blank=True, help_text="Why the escalation is withdrawn.")


# --- read-side figures -----------------------------------------------------------------------------


class ScorecardSerializer(serializers.Serializer):
    vendor = BriefVendorSerializer()
    start = serializers.DateField(help_text="First day of the period.")
    end = serializers.DateField(help_text="Last day of the period (included).")
    escalations = serializers.IntegerField(help_text="Escalations to the vendor in the period.")
    response_met_pct = serializers.FloatField(
        allow_null=True, help_text="Stopped response clocks that met their target, in percent; null: none."
    )
    resolution_met_pct = serializers.FloatField(allow_null=True, help_text="The same for resolution clocks.")
    mean_response_hours = serializers.FloatField(
        allow_null=True, help_text="Mean business hours to the vendor's response (stopped clocks)."
    )
    mean_resolution_hours = serializers.FloatField(allow_null=True, help_text="The same to resolution.")
    incidents_on_covered_cis = serializers.IntegerField(
        help_text="Incidents opened in the period on CIs the vendor's contracts cover."
    )
    yearly_spend = serializers.DictField(
        child=serializers.DecimalField(max_digits=16, decimal_places=2),
        help_text="Currency → cost a year of the contracts overlapping the period.",
    )
    contracts = serializers.IntegerField(help_text="Active contracts.")


class UnsupportedCISerializer(serializers.ModelSerializer):
    """A production CI no active support contract covers."""

    ci_class = serializers.CharField(source="ci_class.name", read_only=True)
    owner_team = serializers.CharField(source="owner_team.name", read_only=True, allow_null=True, default=None)
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = CI
        fields = ["id", "name", "ci_class", "environment", "criticality", "status", "owner_team", "web_url"]
        read_only_fields = fields

    def get_web_url(self, ci) -> str:
        return web_url(ci)
