"""The contract list (filters, search, sort, CSV), a contract's page (terms, covered CIs,
documents, reminders sent, escalations), new / edit (managers; terms as one row per priority),
document upload (managers) and download, and History.

Every write goes through ``vendors.services.contracts``."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone

from itom.api.exceptions import Conflict
from itom.forms import bootstrap_form
from itom.generic import (
    Column,
    ObjectActionView,
    ObjectDetailView,
    ObjectEditView,
    ObjectHistoryView,
    ObjectListView,
)
from vendors.filters import ContractFilterSet
from vendors.forms import ContractForm, DocumentForm
from vendors.models import Contract, ContractDocument

SHOWN_FILTERS = ("q", "vendor", "type", "active")


class ContractListView(ObjectListView):
    model = Contract
    template_name = "vendors/contract_list.html"
    shown_filters = SHOWN_FILTERS
    columns = [
        Column("number", link=True),
        Column("title"),
        Column("vendor", sort="vendor__name"),
        Column("type"),
        Column("start_date", label="Start"),
        Column("end_date", label="End"),
        Column("notice_deadline", label="Notice deadline", sortable=False),
        Column("auto_renew", label="Auto-renew"),
        Column("cost_amount", label="Cost"),
        Column("currency"),
        Column("billing_period", label="Billed"),
        Column("owner", sort="owner__username"),
    ]

    filterset_class = ContractFilterSet

    def get_base_queryset(self):
        return Contract.objects.select_related("vendor", "owner")

    def get_filterset(self):
        filterset = super().get_filterset()
        fields = filterset.form.fields
        for name in ("vendor", "type"):
            fields[name].widget.attrs["size"] = 3
        fields["active"].widget.choices = [("unknown", "Any"), ("true", "Running today"), ("false", "Not running")]
        return filterset

    def get_context_data(self, **kwargs):
        kwargs.update(title="Contracts", subnav="contracts")
        return super().get_context_data(**kwargs)


class ContractDetailView(ObjectDetailView):
    model = Contract
    template_name = "vendors/contract_detail.html"

    def get_queryset(self):
        return Contract.objects.select_related("vendor", "owner", "support_calendar")

    def get_template_names(self):
        return [self.template_name]

    def get_context_data(self, **kwargs):
        contract, user = self.object, self.request.user
        today = timezone.localdate()
        kwargs.setdefault("document_form", bootstrap_form(DocumentForm(auto_id="document_%s")))
        kwargs.update(
            active_today=contract.is_active_on(today),
            terms=list(contract.terms.all()),
            covered_cis=list(contract.covered_cis.select_related("ci_class").order_by("name")),
            documents=list(contract.documents.select_related("uploaded_by")),
            reminders=list(contract.reminders.all()),
            escalations=list(contract.escalations.select_related("incident", "escalated_by")[:50]),
            can_upload=user.has_perm("vendors.add_contractdocument"),
        )
        return super().get_context_data(**kwargs)


class ContractEditView(ObjectEditView):
    """New contract (``?vendor=<id>`` picks the vendor) and edit."""

    model = Contract
    form_class = ContractForm
    template_name = "vendors/contract_form.html"

    def get_queryset(self):
        return Contract.objects.select_related("vendor").prefetch_related("terms", "covered_cis")

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs.pop("instance", None)
        kwargs["contract"] = self.object
        return kwargs

    def get_initial(self):
        initial = super().get_initial()
        vendor = self.request.GET.get("vendor", "")
        if self.object is None and vendor.isdigit():
            initial["vendor"] = int(vendor)
        if self.object is None:
            initial.setdefault("owner", self.request.user.pk)
        return initial

    def save_form(self, form):
        from vendors.services import contracts as services

        user, data = self.request.user, form.cleaned_data
        try:
            if self.object is None:
                return services.create_contract(
                    user=user, vendor=data["vendor"], title=data["title"], **form.service_fields()
                )
            contract = Contract.objects.get(pk=self.object.pk)
            return services.update_contract(contract, user=user, title=data["title"], **form.service_fields())
        except Conflict as exc:
            raise ValidationError(str(exc.detail)) from None

    def get_success_url(self):
        return self.object.get_absolute_url()

    def get_context_data(self, **kwargs):
        form = kwargs.get("form") or self.get_form()
        kwargs.setdefault("chosen_cis", form.chosen_cis())
        return super().get_context_data(**kwargs)


class ContractHistoryView(ObjectHistoryView):
    model = Contract
    template_name = "vendors/contract_history.html"


class DocumentUploadView(ObjectActionView):
    """Attach a document to a contract (managers; the incident attachments' size and type limits)."""

    model = Contract
    permission_action = "change"
    detail_view = ContractDetailView
    form_class = DocumentForm
    form_key = "document_form"
    auto_id = "document_%s"
    anchor = "#documents"

    def get_permission_required(self):
        return ["vendors.add_contractdocument"]

    def act(self, contract, form, **kwargs):
        from vendors.services import contracts as services

        document = services.add_document(contract, user=self.request.user, uploaded_file=form.cleaned_data["file"])
        return f"Attached {document.name}."


@login_required
def document_download(request, pk):
    """A contract's document as a download (never rendered inline)."""
    from incidents.api.views import attachment_response

    if not request.user.has_perm("vendors.view_contractdocument"):
        raise PermissionDenied
    document = get_object_or_404(ContractDocument, pk=pk)
    return attachment_response(document)
