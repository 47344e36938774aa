"""``/api/v1/vendors/…``: vendors, contacts, contracts and escalations to vendors.

Thin viewsets: every write goes through ``vendors.services`` (vendors, contacts and contracts
are managers' — 403 for the others; agents escalate). The object a write acts on is locked and
``If-Match`` is checked (``PortalViewSetMixin``); the whole request is one transaction, rolled
back on any error, so a refused request writes nothing.

- ``/api/v1/vendors/`` — vendors; ``{id}/scorecard/?start=&end=`` (default: the last 365 days);
  ``unsupported-cis/`` — active production CIs that no active support contract covers;
- ``/api/v1/vendors/contacts/`` — their contacts;
- ``/api/v1/vendors/contracts/`` — contracts with their ``terms`` and ``covered_cis``;
  ``{id}/documents/`` (GET, POST a multipart ``file``) and ``{id}/documents/{document id}/``
  (the file); ``renewals/?days=`` — contracts whose notice deadline is within that many days
  (default 90) or that expired in the last 30, soonest first;
- ``/api/v1/vendors/escalations/`` — POST ``{"incident", "contract", "vendor_ticket", "note"}``
  escalates; ``{id}/responded/``, ``{id}/resolved/`` (``{"at"?, "note"?}``) and ``{id}/withdraw/``
  (``{"note"}``). Escalations are withdrawn, never edited or deleted (405).
"""

import datetime as dt

from django.db.models import Prefetch
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_date
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from cmdb.models import CI
from incidents.api.views import attachment_response
from itom.api.viewsets import PortalModelViewSet
from slas.selectors import clock_prefetch
from vendors import selectors
from vendors.api.serializers import (
    ContractDocumentSerializer,
    ContractSerializer,
    ContractWriteSerializer,
    DocumentUploadSerializer,
    EscalateSerializer,
    EscalationEventSerializer,
    ScorecardSerializer,
    UnsupportedCISerializer,
    VendorContactSerializer,
    VendorEscalationSerializer,
    VendorSerializer,
    WithdrawSerializer,
)
from vendors.filters import ContractFilterSet, VendorContactFilterSet, VendorEscalationFilterSet, VendorFilterSet
from vendors.models import Contract, ContractDocument, Vendor, VendorContact, VendorEscalation
from vendors.services import contracts as contract_services
from vendors.services import escalations as escalation_services
from vendors.services import renewals

SCORECARD_DEFAULT_DAYS = 365
SCORECARD_MAX_DAYS = 366 * 10
RENEWALS_DEFAULT_DAYS = 90
RENEWALS_MAX_DAYS = 3650


def date_param(params, name, default=None):
    """The query parameter ``name`` as a date (ISO, ``2026-03-31``); missing → ``default``;
    malformed → a 400 naming it."""
    raw = (params.get(name) or "").strip()
    if not raw:
        return default
    try:
        day = parse_date(raw)
    except ValueError:
        day = None
    if day is None:
        raise serializers.ValidationError({name: [f"“{raw}” is not an ISO date such as 2026-03-31."]})
    return day


def int_param(params, name, default, *, minimum, maximum):
    raw = (params.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not minimum <= int(raw) <= maximum:
        raise serializers.ValidationError({name: [f"A whole number from {minimum} to {maximum}; got “{raw}”."]})
    return int(raw)


class VendorViewSet(PortalModelViewSet):
    """Vendors with their categories and contacts. Managers write; a vendor with contracts or
    escalations can't be deleted (409)."""

    queryset = Vendor.objects.all()
    serializer_class = VendorSerializer
    filterset_class = VendorFilterSet
    ordering_fields = ["name", "status", "created_at", "updated_at"]
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    action_permissions = {"scorecard": "view", "unsupported_cis": "view"}

    def get_queryset(self):
        if self.request.method in SAFE_METHODS:
            return Vendor.objects.prefetch_related("categories", "contacts")
        return Vendor.objects.all()

    def _answer(self, vendor, code=status.HTTP_200_OK):
        fresh = Vendor.objects.prefetch_related("categories", "contacts").get(pk=vendor.pk)
        return self._with_etag(Response(self.get_serializer(fresh).data, status=code), fresh)

    def create(self, request, *args, **kwargs):
        params = self.get_serializer(data=request.data)
        params.is_valid(raise_exception=True)
        vendor = contract_services.create_vendor(user=request.user, **params.validated_data)
        return self._answer(vendor, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        vendor = self.get_object()
        params = self.get_serializer(vendor, data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        vendor = contract_services.update_vendor(vendor, user=request.user, **params.validated_data)
        return self._answer(vendor)

    def perform_destroy(self, vendor):
        contract_services.delete_vendor(vendor, user=self.request.user)

    @extend_schema(
        parameters=[
            OpenApiParameter("start", str, description=f"ISO date; default {SCORECARD_DEFAULT_DAYS} days before end."),
            OpenApiParameter("end", str, description="ISO date (included); default today."),
        ],
        responses={200: ScorecardSerializer, 400: OpenApiResponse(description="start/end malformed.")},
        summary="The vendor's scorecard over a period",
        description="Escalations, response and resolution targets met (%), mean times in business hours, "
        "incidents on covered CIs, yearly spend per currency and active contracts. Percentages and means "
        "are null when there is nothing to count.",
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def scorecard(self, request, pk=None):
        vendor = self.get_object()
        end = date_param(request.query_params, "end", timezone.localdate())
        start = date_param(request.query_params, "start", end - dt.timedelta(days=SCORECARD_DEFAULT_DAYS))
        if end < start:
            raise serializers.ValidationError({"end": ["The end can't be before the start."]})
        if (end - start).days > SCORECARD_MAX_DAYS:
            raise serializers.ValidationError({"end": [f"The period may be at most {SCORECARD_MAX_DAYS} days long."]})
        card = {"vendor": vendor, "start": start, "end": end, **selectors.scorecard(vendor, start, end)}
        return Response(ScorecardSerializer(card).data)

    @extend_schema(
        responses=UnsupportedCISerializer(many=True),
        summary="Production CIs without support",
        description="Active production CIs that no active support, maintenance, SaaS or warranty contract covers.",
    )
    @action(detail=False, methods=["get"], url_path="unsupported-cis", url_name="unsupported-cis", filter_backends=[])
    def unsupported_cis(self, request):
        cis = selectors.unsupported_production_cis().select_related("ci_class", "owner_team")
        page = self.paginate_queryset(cis)
        return self.get_paginated_response(UnsupportedCISerializer(page, many=True).data)


class VendorContactViewSet(PortalModelViewSet):
    """Vendors' contact people. Managers write."""

    queryset = VendorContact.objects.select_related("vendor")
    serializer_class = VendorContactSerializer
    filterset_class = VendorContactFilterSet
    ordering_fields = ["name", "escalation_level", "created_at", "updated_at"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def _answer(self, contact, code=status.HTTP_200_OK):
        fresh = VendorContact.objects.select_related("vendor").get(pk=contact.pk)
        return self._with_etag(Response(self.get_serializer(fresh).data, status=code), fresh)

    def create(self, request, *args, **kwargs):
        params = self.get_serializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        contact = contract_services.add_contact(data.pop("vendor"), user=request.user, **data)
        return self._answer(contact, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        contact = self.get_object()
        params = self.get_serializer(contact, data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        data.pop("vendor", None)
        contact = contract_services.update_contact(contact, user=request.user, **data)
        return self._answer(contact)

    def perform_destroy(self, contact):
        contract_services.delete_contact(contact, user=self.request.user)


def contract_queryset():
    """Contracts with what ``ContractSerializer`` shows at a constant number of queries."""
    return Contract.objects.select_related("vendor", "owner", "support_calendar").prefetch_related(
        Prefetch("covered_cis", queryset=CI.objects.only("id", "name").order_by("name", "id")), "terms"
    )


class ContractViewSet(PortalModelViewSet):
    """Contracts with their underpinning SLA terms and covered CIs. Managers write (contracts and
    their costs); a contract escalations refer to can't be deleted (409)."""

    queryset = Contract.objects.all()
    serializer_class = ContractSerializer
    filterset_class = ContractFilterSet
    ordering_fields = ["end_date", "number", "title", "start_date", "cost_amount", "created_at", "updated_at"]
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    @property
    def action_permissions(self):
        write = "view" if self.request.method in SAFE_METHODS else "change"
        return {"documents": write, "document_download": "view", "renewals": "view"}

    def get_queryset(self):
        if self.request.method in SAFE_METHODS and self.action in ("list", "retrieve", "renewals"):
            return contract_queryset()
        return Contract.objects.all()

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "today": timezone.localdate()}

    def _answer(self, contract, code=status.HTTP_200_OK):
        fresh = contract_queryset().get(pk=contract.pk)
        response = Response(ContractSerializer(fresh, context=self.get_serializer_context()).data, status=code)
        return self._with_etag(response, fresh)

    @extend_schema(
        request=ContractWriteSerializer,
        responses={201: ContractSerializer, 400: OpenApiResponse(description="A field is missing or wrong.")},
        summary="Create a contract (managers)",
        description="End after start, cost not negative, `currency` an ISO 4217 code, one term per priority.",
    )
    def create(self, request, *args, **kwargs):
        params = ContractWriteSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        contract = contract_services.create_contract(user=request.user, **params.validated_data)
        return self._answer(contract, status.HTTP_201_CREATED)

    @extend_schema(
        request=ContractWriteSerializer,
        responses=ContractSerializer,
        summary="Edit a contract (managers)",
        description="`terms`, when given, replaces the terms; `covered_cis` the covered CIs.",
    )
    def partial_update(self, request, *args, **kwargs):
        contract = self.get_object()
        params = ContractWriteSerializer(contract, data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        contract = contract_services.update_contract(contract, user=request.user, **params.validated_data)
        return self._answer(contract)

    def perform_destroy(self, contract):
        contract_services.delete_contract(contract, user=self.request.user)

    @extend_schema(methods=["GET"], responses=ContractDocumentSerializer(many=True), summary="The contract's documents")
    @extend_schema(
        methods=["POST"],
        request={"multipart/form-data": DocumentUploadSerializer},
        responses={201: ContractDocumentSerializer},
        summary="Attach a document (multipart `file`, managers)",
        description="The size and type limits are those of incident attachments (`ATTACHMENT_MAX_MB`, "
        "`ATTACHMENT_CONTENT_TYPES`).",
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[], parser_classes=[MultiPartParser, FormParser])
    def documents(self, request, pk=None):
        contract = self.get_object()
        context = self.get_serializer_context()
        if request.method == "GET":
            documents = contract.documents.select_related("uploaded_by").order_by("created_at", "id")
            page = self.paginate_queryset(documents)
            return self.get_paginated_response(ContractDocumentSerializer(page, many=True, context=context).data)
        params = DocumentUploadSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        document = contract_services.add_document(
            contract, user=request.user, uploaded_file=params.validated_data["file"]
        )
        return Response(ContractDocumentSerializer(document, context=context).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): bytes}, summary="Download a document")
    @action(
        detail=True,
        methods=["get"],
        url_path=r"documents/(?P<document_pk>\d+)",
        url_name="document-download",
        filter_backends=[],
    )
    def document_download(self, request, pk=None, document_pk=None):
        contract = self.get_object()
        document = ContractDocument.objects.filter(pk=document_pk, contract=contract).first()
        if document is None:
            raise Http404("No such document on this contract.")
        return attachment_response(document)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "days", int, description=f"Notice deadlines within this many days (default {RENEWALS_DEFAULT_DAYS})."
            )
        ],
        responses={200: ContractSerializer(many=True), 400: OpenApiResponse(description="days malformed.")},
        summary="Renewals due",
        description="Contracts whose notice deadline is within `days` days (or passed), and those that "
        "expired in the last 30 days, soonest deadline first.",
    )
    @action(detail=False, methods=["get"], filter_backends=[])
    def renewals(self, request):
        days = int_param(request.query_params, "days", RENEWALS_DEFAULT_DAYS, minimum=0, maximum=RENEWALS_MAX_DAYS)
        due = renewals.renewals_due(timezone.localdate(), days=days)
        due = due.select_related("vendor", "owner", "support_calendar").prefetch_related(
            Prefetch("covered_cis", queryset=CI.objects.only("id", "name").order_by("name", "id")), "terms"
        )
        page = self.paginate_queryset(due)
        return self.get_paginated_response(
            ContractSerializer(page, many=True, context=self.get_serializer_context()).data
        )


def escalation_queryset():
    return VendorEscalation.objects.select_related("incident", "contract", "vendor", "escalated_by").prefetch_related(
        clock_prefetch()
    )


class VendorEscalationViewSet(PortalModelViewSet):
    """Incidents escalated to vendors, with their vendor clocks (``sla``). Agents escalate and
    record the vendor's response and resolution; an escalation is withdrawn, not edited or
    deleted."""

    queryset = VendorEscalation.objects.all()
    serializer_class = VendorEscalationSerializer
    filterset_class = VendorEscalationFilterSet
    ordering_fields = ["escalated_at", "state", "priority", "responded_at", "resolved_at", "created_at", "updated_at"]
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "head", "options"]
    action_permissions = {"responded": "change", "resolved": "change", "withdraw": "change"}

    def get_queryset(self):
        if self.request.method in SAFE_METHODS:
            return escalation_queryset()
        return VendorEscalation.objects.all()

    def _answer(self, escalation, code=status.HTTP_200_OK):
        fresh = escalation_queryset().get(pk=escalation.pk)
        response = Response(self.get_serializer(fresh).data, status=code)
        return self._with_etag(response, fresh)

    @extend_schema(
        request=EscalateSerializer,
        responses={
            201: VendorEscalationSerializer,
            400: OpenApiResponse(
                description="The contract has expired or not started, covers none of the incident's CIs, or has "
                "no support hours (named by field)."
            ),
            409: OpenApiResponse(description="The incident is not open, or already escalated under the contract."),
        },
        summary="Escalate an incident to a vendor",
        description="Puts the incident on hold awaiting the vendor and starts the vendor clocks from the "
        "contract's term for the incident's priority, in the contract's support hours.",
    )
    def create(self, request, *args, **kwargs):
        params = EscalateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        escalation = escalation_services.escalate(data.pop("incident"), user=request.user, **data)
        return self._answer(escalation, status.HTTP_201_CREATED)

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise MethodNotAllowed(
            request.method,
            detail="Escalations are not edited or deleted: POST …/responded/, …/resolved/ or …/withdraw/.",
        )

    @extend_schema(
        request=EscalationEventSerializer,
        responses={200: VendorEscalationSerializer, 409: OpenApiResponse(description="Not awaiting a response.")},
        summary="The vendor responded",
        description="Stops the response clock.",
    )
    @action(detail=True, methods=["post"])
    def responded(self, request, pk=None):
        params = EscalationEventSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        escalation = escalation_services.record_response(self.get_object(), user=request.user, **params.validated_data)
        return self._answer(escalation)

    @extend_schema(
        request=EscalationEventSerializer,
        responses={200: VendorEscalationSerializer, 409: OpenApiResponse(description="Already resolved or withdrawn.")},
        summary="The vendor resolved",
        description="Stops the resolution clock (and the response clock if still running); an incident on "
        "hold awaiting the vendor goes back to in progress.",
    )
    @action(detail=True, methods=["post"])
    def resolved(self, request, pk=None):
        params = EscalationEventSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        escalation = escalation_services.record_resolution(
            self.get_object(), user=request.user, **params.validated_data
        )
        return self._answer(escalation)

    @extend_schema(
        request=WithdrawSerializer,
        responses={200: VendorEscalationSerializer, 409: OpenApiResponse(description="Already resolved or withdrawn.")},
        summary="Withdraw the escalation",
        description="Cancels the vendor clocks.",
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        params = WithdrawSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        escalation = escalation_services.withdraw(self.get_object(), user=request.user, **params.validated_data)
        return self._answer(escalation)
