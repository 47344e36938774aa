"""The vendor list (filters, search, sort, CSV), a vendor's page (contacts, contracts, the CIs
they cover, its scorecard over a period with a chart), new / edit (managers), its contacts
(managers add, edit and delete them) and History.

Every write goes through ``vendors.services.contracts``; viewers and agents read the pages."""

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone

from cmdb.models import CI
from itom.api.exceptions import Conflict
from itom.generic import (
    Column,
    ObjectDeleteView,
    ObjectDetailView,
    ObjectEditView,
    ObjectHistoryView,
    ObjectListView,
)
from vendors.filters import VendorFilterSet
from vendors.forms import VENDOR_FIELDS, ContactForm, PeriodForm, VendorForm
from vendors.models import Vendor, VendorContact

COVERED_CIS_SHOWN = 50
CHART_SLICES = 4  # the scorecard chart cuts the period in this many slices


class VendorListView(ObjectListView):
    model = Vendor
    template_name = "vendors/vendor_list.html"
    shown_filters = ("q", "status", "category")
    columns = [
        Column("name", link=True),
        Column("status"),
        Column("categories", sortable=False),
        Column("active_contracts", label="Active contracts"),
        Column("support_phone"),
        Column("support_email"),
    ]

    filterset_class = VendorFilterSet

    def get_base_queryset(self):
        today = timezone.localdate()
        active = Q(contracts__start_date__lte=today, contracts__end_date__gte=today)
        return Vendor.objects.prefetch_related("categories").annotate(
            active_contracts=Count("contracts", filter=active, distinct=True)
        )

    def get_context_data(self, **kwargs):
        kwargs.update(title="Vendors", subnav="vendors")
        return super().get_context_data(**kwargs)


def _percent(value):
    return None if value is None else round(value)


def scorecard_chart(vendor, start, end):
    """The scorecard cut in ``CHART_SLICES`` slices: escalations, response and resolution met %."""
    from vendors.selectors import scorecard

    days = max((end - start).days, CHART_SLICES)
    step = days / CHART_SLICES
    labels, escalations, response, resolution = [], [], [], []
    for i in range(CHART_SLICES):
        begin = start + dt.timedelta(days=round(i * step))
        finish = end if i == CHART_SLICES - 1 else start + dt.timedelta(days=round((i + 1) * step) - 1)
        part = scorecard(vendor, begin, finish)
        labels.append(f"{begin:%d %b %Y} – {finish:%d %b %Y}")
        escalations.append(part["escalations"])
        response.append(_percent(part["response_met_pct"]))
        resolution.append(_percent(part["resolution_met_pct"]))
    return {
        "labels": labels,
        "datasets": [
            {"label": "Escalations", "data": escalations, "type": "line", "yAxisID": "count"},
            {"label": "Response met %", "data": response, "yAxisID": "pct"},
            {"label": "Resolution met %", "data": resolution, "yAxisID": "pct"},
        ],
    }


class VendorDetailView(ObjectDetailView):
    model = Vendor
    template_name = "vendors/vendor_detail.html"

    def get_queryset(self):
        return Vendor.objects.prefetch_related("categories")

    def get_template_names(self):
        return [self.template_name]

    def get_context_data(self, **kwargs):
        from vendors.selectors import scorecard

        vendor, today = self.object, timezone.localdate()
        period = PeriodForm(self.request.GET or None)
        start, end = period.period(today)
        if not period.is_bound:
            period = PeriodForm(initial={"start": start, "end": end})
        contracts = list(vendor.contracts.select_related("owner").order_by("-end_date", "number"))
        for contract in contracts:
            contract.active_today = contract.is_active_on(today)
        active = {"contracts__start_date__lte": today, "contracts__end_date__gte": today}
        covered = (
            CI.objects.filter(contracts__vendor=vendor, **active).select_related("ci_class").distinct().order_by("name")
        )
        kwargs.update(
            contacts=list(vendor.contacts.all()),
            contracts=contracts,
            covered_cis=list(covered[:COVERED_CIS_SHOWN]),
            covered_count=covered.count(),
            period_form=period,
            start=start,
            end=end,
            scorecard=scorecard(vendor, start, end),
            chart=scorecard_chart(vendor, start, end),
            can_add_contract=self.request.user.has_perm("vendors.add_contract"),
            can_change_contact=self.request.user.has_perm("vendors.change_vendorcontact"),
        )
        return super().get_context_data(**kwargs)


class VendorEditView(ObjectEditView):
    model = Vendor
    form_class = VendorForm
    template_name = "vendors/vendor_form.html"

    def save_form(self, form):
        from vendors.services import contracts as services

        user = self.request.user
        if self.object is None:
            fields = {name: form.cleaned_data[name] for name in VENDOR_FIELDS}
            return services.create_vendor(user=user, **fields)
        changed = form.changed_fields()
        if not changed:
            return self.object
        return services.update_vendor(Vendor.objects.get(pk=self.object.pk), user=user, **changed)

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except Conflict as exc:
            form.add_error(None, str(exc.detail))
            return self.form_invalid(form)

    def get_success_url(self):
        return self.object.get_absolute_url()


class VendorHistoryView(ObjectHistoryView):
    model = Vendor
    template_name = "vendors/vendor_history.html"


class ContactEditView(ObjectEditView):
    """Add a contact to a vendor (``/vendors/<vendor>/contacts/new/``) or edit one."""

    model = VendorContact
    form_class = ContactForm
    template_name = "vendors/contact_form.html"

    def dispatch(self, request, *args, **kwargs):
        self.vendor = None
        if "vendor_pk" in kwargs:
            self.vendor = get_object_or_404(Vendor, pk=kwargs["vendor_pk"])
        return super().dispatch(request, *args, **kwargs)

    @property
    def permission_action(self):
        return "change" if "pk" in self.kwargs else "add"

    def save_form(self, form):
        from vendors.services import contracts as services

        user, fields = self.request.user, dict(form.cleaned_data)
        if self.object is None:
            return services.add_contact(self.vendor, user=user, **fields)
        return services.update_contact(VendorContact.objects.get(pk=self.object.pk), user=user, **fields)

    def get_success_url(self):
        return reverse("vendors:vendor_detail", args=[self.object.vendor_id]) + "#contacts"

    def get_context_data(self, **kwargs):
        kwargs["vendor"] = self.vendor or self.object.vendor
        return super().get_context_data(**kwargs)


class ContactDeleteView(ObjectDeleteView):
    model = VendorContact
    template_name = "vendors/contact_confirm_delete.html"

    def form_valid(self, form):
        from vendors.services import contracts as services

        contact = self.object
        try:
            with transaction.atomic():
                services.delete_contact(contact, user=self.request.user)
        except (ValidationError, Conflict) as exc:
            messages.error(self.request, " ".join(getattr(exc, "messages", [str(getattr(exc, "detail", exc))])))
            return redirect(self.get_success_url())
        messages.success(self.request, f"Deleted the contact “{contact.name}”.")
        return redirect(self.get_success_url())

    def get_success_url(self):
        return reverse("vendors:vendor_detail", args=[self.object.vendor_id]) + "#contacts"
