"""Forms of the vendor pages: the vendor and contact forms, the contract form (its terms as one
row per priority, its covered CIs picked with the CMDB search), the document upload, the
escalation form of the incident page, the escalation's actions and the scorecard's period.

The forms check the shape of the input; the rules (who may write, dates, currency, eligible
contracts) are ``vendors.services``', whose ``ValidationError`` lands on the field it names.
"""

import datetime as dt

from django import forms
from django.contrib.auth import get_user_model

from cmdb.models import CI
from incidents.choices import Priority
from incidents.forms.incidents import PersonChoiceField
from slas.models import BusinessCalendar
from vendors.choices import BillingPeriod, ContractType
from vendors.models import Contract, Vendor, VendorContact
from vendors.services import contracts as contract_services

User = get_user_model()

# The fields the services take; the contract form edits its covered CIs and terms apart.
VENDOR_FIELDS = list(contract_services.VENDOR_FIELDS)
CONTACT_FIELDS = list(contract_services.CONTACT_FIELDS)
CONTRACT_FIELDS = [name for name in contract_services.CONTRACT_FIELDS if name not in ("covered_cis", "terms")]


def date_field(**kwargs):
    return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), **kwargs)


class VendorForm(forms.ModelForm):
    website = forms.URLField(required=False, assume_scheme="https")
    support_portal = forms.URLField(
        required=False, assume_scheme="https", help_text="Where tickets are opened with the vendor."
    )

    class Meta:
        model = Vendor
        fields = VENDOR_FIELDS
        widgets = {"categories": forms.CheckboxSelectMultiple, "notes": forms.Textarea(attrs={"rows": 3})}

    def changed_fields(self):
        return {name: self.cleaned_data[name] for name in self.changed_data if name in VENDOR_FIELDS}


class ContactForm(forms.ModelForm):
    class Meta:
        model = VendorContact
        fields = CONTACT_FIELDS


class ContractForm(forms.Form):
    """A new contract (its vendor picked) or an edit (the vendor stays). ``terms``: a row per
    priority with the vendor's response and resolution targets in minutes; a row left empty is
    no term for that priority."""

    vendor = forms.ModelChoiceField(queryset=Vendor.objects.all())
    title = forms.CharField(max_length=200)
    type = forms.ChoiceField(choices=ContractType.choices, initial=ContractType.SUPPORT)
    start_date = date_field()
    end_date = date_field()
    auto_renew = forms.BooleanField(required=False, help_text="Renews by itself at the end unless notice is given.")
    renewal_months = forms.IntegerField(min_value=1, initial=12, help_text="How long each automatic renewal runs.")
    notice_days = forms.IntegerField(min_value=0, initial=30, help_text="Notice period, in days before the end.")
    cost_amount = forms.DecimalField(max_digits=14, decimal_places=2, initial=0, label="Cost")
    currency = forms.CharField(max_length=3, initial="EUR", help_text="ISO 4217 code, e.g. EUR, USD, GBP.")
    billing_period = forms.ChoiceField(choices=BillingPeriod.choices, initial=BillingPeriod.YEARLY)
    owner = PersonChoiceField(queryset=User.objects.none(), required=False, help_text="Who gets the renewal reminders.")
    support_calendar = forms.ModelChoiceField(
        queryset=BusinessCalendar.objects.all(),
        required=False,
        label="Support hours",
        help_text="The vendor's support hours: vendor clocks count only these.",
    )
    covered_cis = forms.ModelMultipleChoiceField(
        queryset=CI.objects.all(),
        required=False,
        label="Covered CIs",
        widget=forms.MultipleHiddenInput,
        help_text="The CIs the vendor answers for under this contract.",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, contract=None, **kwargs):
        self.contract = contract
        if contract is not None:
            initial = kwargs.setdefault("initial", {})
            for name in CONTRACT_FIELDS:
                value = getattr(contract, f"{name}_id" if name in ("owner", "support_calendar") else name)
                initial.setdefault(name, value)
            initial.setdefault("covered_cis", [ci.pk for ci in contract.covered_cis.all()])
            for term in contract.terms.all():
                initial.setdefault(f"p{term.priority}_response", term.response_minutes)
                initial.setdefault(f"p{term.priority}_resolution", term.resolution_minutes)
        super().__init__(*args, **kwargs)
        if contract is not None:
            del self.fields["vendor"]
        self.fields["owner"].queryset = User.objects.filter(is_active=True).order_by("username")
        for priority in Priority:
            for metric in ("response", "resolution"):
                label = f"P{priority.value} {metric} (minutes)"
                self.fields[f"p{priority.value}_{metric}"] = forms.IntegerField(
                    min_value=1, required=False, label=label, widget=forms.NumberInput(attrs={"aria-label": label})
                )

    def term_rows(self):
        """``[(priority label, response field, resolution field)]`` for the terms table."""
        return [
            (priority.label, self[f"p{priority.value}_response"], self[f"p{priority.value}_resolution"])
            for priority in Priority
        ]

    def term_list(self):
        rows = []
        for priority in Priority:
            response = self.cleaned_data.get(f"p{priority.value}_response")
            resolution = self.cleaned_data.get(f"p{priority.value}_resolution")
            if response or resolution:
                rows.append(
                    {"priority": priority.value, "response_minutes": response, "resolution_minutes": resolution}
                )
        return rows

    def service_fields(self):
        """The contract's fields as the service takes them (``vendor`` and ``title`` aside)."""
        data = self.cleaned_data
        fields = {name: data[name] for name in CONTRACT_FIELDS if name != "title"}
        fields["covered_cis"] = list(data["covered_cis"])
        fields["terms"] = self.term_list()
        return fields

    def chosen_cis(self):
        raw = self["covered_cis"].value() or []
        ids = [int(value) for value in raw if str(value).isdigit()]
        if not ids:
            return []
        return list(CI.objects.filter(pk__in=ids).select_related("ci_class").order_by("name"))


class DocumentForm(forms.Form):
    file = forms.FileField(label="Document")


class EscalationForm(forms.Form):
    """Escalate an incident: one of the contracts that cover its CIs, the vendor's ticket."""

    ERROR_ALIASES = {"incident": None}

    contract = forms.ModelChoiceField(queryset=Contract.objects.none(), empty_label=None)
    vendor_ticket = forms.CharField(
        max_length=100, required=False, label="Vendor ticket", help_text="The vendor's own reference, if known."
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, contracts=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Any contract validates: whether it may serve is the service's rule, and it names it.
        self.fields["contract"].queryset = Contract.objects.select_related("vendor")
        self.fields["contract"].widget.choices = [
            (contract.pk, f"{contract.vendor} — {contract} (until {contract.end_date:%Y-%m-%d})")
            for contract in contracts or []
        ]


class EscalationNoteForm(forms.Form):
    """A vendor's response or resolution (when, a note), or a withdrawal (why)."""

    at = forms.DateTimeField(
        required=False,
        label="When",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Leave empty for now.",
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class PeriodForm(forms.Form):
    """The scorecard's period (the last 365 days by default)."""

    start = date_field(required=False)
    end = date_field(required=False)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The end must not be before the start.")
        return data

    def period(self, today):
        """``(start, end)`` dates: the valid input, else the last 365 days to ``today``."""
        start = end = None
        if self.is_valid():
            start, end = self.cleaned_data.get("start"), self.cleaned_data.get("end")
        end = end or today
        return start or end - dt.timedelta(days=365), end
