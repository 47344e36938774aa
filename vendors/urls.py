"""The vendor pages, under ``/vendors/``: vendors (list, page with its scorecard, new / edit,
contacts), contracts (list, page, new / edit, documents), the renewals due, the production CIs
without support, and escalations of incidents to a vendor."""

from django.urls import include, path

from vendors.views import contracts, escalations, reports
from vendors.views import vendors as views

app_name = "vendors"

vendor_patterns = [
    path("", views.VendorListView.as_view(), name="vendor_list"),
    path("new/", views.VendorEditView.as_view(), name="vendor_add"),
    path("<int:pk>/", views.VendorDetailView.as_view(), name="vendor_detail"),
    path("<int:pk>/edit/", views.VendorEditView.as_view(), name="vendor_edit"),
    path("<int:pk>/history/", views.VendorHistoryView.as_view(), name="vendor_history"),
    path("<int:vendor_pk>/contacts/new/", views.ContactEditView.as_view(), name="contact_add"),
    path("contacts/<int:pk>/edit/", views.ContactEditView.as_view(), name="contact_edit"),
    path("contacts/<int:pk>/delete/", views.ContactDeleteView.as_view(), name="contact_delete"),
]

contract_patterns = [
    path("", contracts.ContractListView.as_view(), name="contract_list"),
    path("new/", contracts.ContractEditView.as_view(), name="contract_add"),
    path("renewals/", reports.RenewalsView.as_view(), name="renewals"),
    path("<int:pk>/", contracts.ContractDetailView.as_view(), name="contract_detail"),
    path("<int:pk>/edit/", contracts.ContractEditView.as_view(), name="contract_edit"),
    path("<int:pk>/history/", contracts.ContractHistoryView.as_view(), name="contract_history"),
    path("<int:pk>/documents/", contracts.DocumentUploadView.as_view(), name="contract_document_add"),
    path("documents/<int:pk>/", contracts.document_download, name="contract_document"),
]

escalation_patterns = [
    path("new/", escalations.EscalationCreateView.as_view(), name="escalation_add"),
    path("<int:pk>/", escalations.EscalationDetailView.as_view(), name="escalation_detail"),
    path("<int:pk>/<str:action>/", escalations.EscalationActionView.as_view(), name="escalation_action"),
]

urlpatterns = [
    path(
        "vendors/",
        include(
            [
                path("contracts/", include(contract_patterns)),
                path("escalations/", include(escalation_patterns)),
                path("unsupported-cis/", reports.UnsupportedCIsView.as_view(), name="unsupported_cis"),
                *vendor_patterns,
            ]
        ),
    ),
]
