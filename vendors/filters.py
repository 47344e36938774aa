"""The FilterSets of the vendor lists, shared by the pages and ``/api/v1/vendors/…``.

- vendors: ``q`` (name, account manager, notes), ``status`` and ``category`` (id or slug; several
  values each);
- contacts: ``q``, ``vendor``;
- contracts: ``q`` (number, title, vendor), ``vendor``, ``type`` (several), ``category`` (the
  vendor's), ``active`` (running today: start ≤ today ≤ end), ``ending_after`` /
  ``ending_before`` (ISO dates, the end date within them, both included), ``ci`` (covers that
  CI), ``owner``, ``auto_renew``, ``currency``;
- escalations: ``q`` (vendor ticket, incident number, contract number), ``state`` (several),
  ``open`` (awaiting the vendor or responded), ``vendor``, ``contract``, ``incident``,
  ``escalated_after`` / ``escalated_before``.

"Today" is the local date (``TIME_ZONE``).
"""

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from itom.filters import BaseFilterSet
from vendors.choices import ContractType, EscalationState, VendorStatus
from vendors.models import Contract, Vendor, VendorCategory, VendorContact, VendorEscalation

OPEN_ESCALATION_STATES = (EscalationState.OPEN, EscalationState.RESPONDED)


def _category_ids(values):
    """Category ids for a list of ids or slugs; unknown ones are dropped (None when none given)."""
    values = [str(v).strip() for v in values if str(v).strip()]
    if not values:
        return None
    ids = {int(v) for v in values if v.isdigit()}
    slugs = [v for v in values if not v.isdigit()]
    if slugs:
        ids |= set(VendorCategory.objects.filter(slug__in=slugs).values_list("pk", flat=True))
    return ids


class CategoriesFilter(django_filters.BaseInFilter, django_filters.CharFilter):
    """``?category=cloud,software`` or ``?category=3``: vendor categories by slug or id."""


class VendorFilterSet(BaseFilterSet):
    search_fields = ("name", "account_manager", "notes", "support_email")

    status = django_filters.MultipleChoiceFilter(choices=VendorStatus.choices)
    category = CategoriesFilter(method="filter_category", label="Category (slugs or ids, comma-separated)")

    class Meta:
        model = Vendor
        fields = ["id", "q", "status", "category"]

    def filter_category(self, queryset, name, value):
        ids = _category_ids(value or [])
        if ids is None:
            return queryset
        return queryset.filter(categories__in=ids).distinct()


class VendorContactFilterSet(BaseFilterSet):
    search_fields = ("name", "role", "email", "phone", "vendor__name")

    vendor = django_filters.ModelMultipleChoiceFilter(queryset=Vendor.objects.all())

    class Meta:
        model = VendorContact
        fields = ["id", "q", "vendor", "escalation_level"]


class ContractFilterSet(BaseFilterSet):
    search_fields = ("number", "title", "vendor__name", "notes")

    vendor = django_filters.ModelMultipleChoiceFilter(queryset=Vendor.objects.all())
    type = django_filters.MultipleChoiceFilter(choices=ContractType.choices)
    category = CategoriesFilter(method="filter_category", label="Vendor category (slugs or ids, comma-separated)")
    active = django_filters.BooleanFilter(method="filter_active", label="Running today")
    ending_after = django_filters.DateFilter(field_name="end_date", lookup_expr="gte", label="Ending on or after")
    ending_before = django_filters.DateFilter(field_name="end_date", lookup_expr="lte", label="Ending on or before")
    ci = django_filters.NumberFilter(field_name="covered_cis", label="Covers the CI (id)", distinct=True)
    owner = django_filters.ModelMultipleChoiceFilter(queryset=get_user_model().objects.all())
    currency = django_filters.CharFilter(method="filter_currency", label="Currency (ISO 4217)")

    class Meta:
        model = Contract
        fields = [
            "id",
            "q",
            "vendor",
            "type",
            "category",
            "active",
            "ending_after",
            "ending_before",
            "ci",
            "owner",
            "auto_renew",
            "currency",
        ]

    def filter_category(self, queryset, name, value):
        ids = _category_ids(value or [])
        if ids is None:
            return queryset
        return queryset.filter(vendor__categories__in=ids).distinct()

    def filter_active(self, queryset, name, value):
        if value is None:
            return queryset
        today = timezone.localdate()
        running = Q(start_date__lte=today, end_date__gte=today)
        return queryset.filter(running if value else ~running)

    def filter_currency(self, queryset, name, value):
        value = (value or "").strip()
        return queryset.filter(currency=value.upper()) if value else queryset


class VendorEscalationFilterSet(BaseFilterSet):
    search_fields = ("vendor_ticket", "incident__number", "incident__title", "contract__number", "vendor__name")

    state = django_filters.MultipleChoiceFilter(choices=EscalationState.choices)
    open = django_filters.BooleanFilter(method="filter_open", label="Open (awaiting the vendor or responded)")
    vendor = django_filters.ModelMultipleChoiceFilter(queryset=Vendor.objects.all())
    contract = django_filters.ModelMultipleChoiceFilter(queryset=Contract.objects.all())
    incident = django_filters.NumberFilter(field_name="incident", label="Incident (id)")
    escalated = django_filters.IsoDateTimeFromToRangeFilter(field_name="escalated_at")

    class Meta:
        model = VendorEscalation
        fields = ["id", "q", "state", "open", "vendor", "contract", "incident", "escalated"]

    def filter_open(self, queryset, name, value):
        if value is None:
            return queryset
        opened = Q(state__in=OPEN_ESCALATION_STATES)
        return queryset.filter(opened if value else ~opened)
