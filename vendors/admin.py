"""Vendors, contracts and escalations in the admin console (managers).

Contracts are written through ``vendors.services.contracts`` (the currency check, terms and
permissions live there); escalations and renewal reminders are shown read-only: they move only
through their services (the pages, the API and the daily task).
"""

from django.contrib import admin

from incidents.admin import ReadOnlyInline, ServiceAdmin
from vendors.models import (
    Contract,
    ContractDocument,
    ContractReminder,
    ContractTerm,
    Vendor,
    VendorCategory,
    VendorContact,
    VendorEscalation,
)


class ContactInline(admin.TabularInline):
    model = VendorContact
    extra = 0
    fields = ["name", "role", "email", "phone", "escalation_level"]


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "support_phone", "support_email", "account_manager"]
    list_filter = ["status", "categories"]
    search_fields = ["name", "notes", "account_manager"]
    filter_horizontal = ["categories"]
    inlines = [ContactInline]


@admin.register(VendorCategory)
class VendorCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


class TermInline(ReadOnlyInline):
    model = ContractTerm
    fields = ["priority", "response_minutes", "resolution_minutes"]
    readonly_fields = fields


class DocumentInline(ReadOnlyInline):
    model = ContractDocument
    fields = ["name", "content_type", "size", "uploaded_by", "created_at"]
    readonly_fields = fields


class ReminderInline(ReadOnlyInline):
    model = ContractReminder
    fields = ["kind", "deadline", "sent_at"]
    readonly_fields = fields


@admin.register(Contract)
class ContractAdmin(ServiceAdmin):
    list_display = ["number", "title", "vendor", "type", "start_date", "end_date", "auto_renew", "cost", "owner"]
    list_filter = ["type", "auto_renew", "billing_period", "vendor"]
    list_select_related = ["vendor", "owner"]
    search_fields = ["number", "title", "vendor__name", "notes"]
    date_hierarchy = "end_date"
    autocomplete_fields = ["vendor", "owner", "covered_cis", "support_calendar"]
    readonly_fields = ["number", "notice_deadline", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["number", "vendor", "title", "type", "owner", "notes"]}),
        (
            "Term",
            {"fields": ["start_date", "end_date", "auto_renew", "renewal_months", "notice_days", "notice_deadline"]},
        ),
        ("Cost", {"fields": ["cost_amount", "currency", "billing_period"]}),
        ("Coverage", {"fields": ["covered_cis", "support_calendar", "created_at", "updated_at"]}),
    ]
    inlines = [TermInline, DocumentInline, ReminderInline]

    @admin.display(description="Cost", ordering="cost_amount")
    def cost(self, contract):
        return f"{contract.cost_amount} {contract.currency} ({contract.get_billing_period_display().lower()})"

    @staticmethod
    def save_with_service(instance, fields, user, adding):
        from vendors.services import contracts

        if adding:
            return contracts.create_contract(user=user, **fields)
        return contracts.update_contract(instance, user=user, **fields)


@admin.register(VendorEscalation)
class VendorEscalationAdmin(admin.ModelAdmin):
    list_display = [
        "incident",
        "vendor",
        "contract",
        "vendor_ticket",
        "state",
        "escalated_at",
        "responded_at",
        "resolved_at",
    ]
    list_filter = ["state", "vendor"]
    list_select_related = ["incident", "vendor", "contract"]
    search_fields = ["vendor_ticket", "incident__number", "contract__number", "vendor__name"]
    readonly_fields = [f.name for f in VendorEscalation._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
