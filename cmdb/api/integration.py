"""The CMDB's integration endpoints: bulk import (CSV/JSON), host facts import, CSV export and the
Ansible dynamic inventory. Each view reads the request, calls ``cmdb.services`` (writes) or
``cmdb.imports`` / ``cmdb.inventory`` (reads) and answers; the import rules live there.

- ``POST cmdb/import/``: 200 with the report on a valid dry run, 201 once committed, 400 with the
  report (each error with its row, field and message) when any row is bad; nothing is written then.
- ``POST cmdb/import/facts/``: the same answers, for ``ansible -m setup`` or ``facter --json`` output.
- ``GET cmdb/cis/export/``: the CIs the filters select, as CSV in the import format.
- ``GET cmdb/inventory/ansible/``: the ``ansible-inventory --list`` JSON for the CIs the filters select.
"""

import json

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from cmdb import imports, inventory, services
from cmdb.choices import Environment
from cmdb.filters import CIFilterSet
from cmdb.models import CI
from itom.api.permissions import RolePermission

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"", "0", "false", "no", "off"}


# --- request bodies ---------------------------------------------------------------------------


class RawBody(bytes):
    """The request body as sent, with its media type (parsed by the import code, which reports
    errors per row and field instead of a parser's generic message)."""

    media_type = ""


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


def max_import_bytes():
    return settings.CMDB_IMPORT_MAX_MB * 1024 * 1024


def _too_large():
    return PayloadTooLarge(f"The file is larger than {settings.CMDB_IMPORT_MAX_MB} MB (CMDB_IMPORT_MAX_MB).")


class _RawParser(BaseParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = max_import_bytes()
        content = stream.read(limit + 1) if stream is not None else b""
        if len(content) > limit:
            raise _too_large()
        body = RawBody(content)
        body.media_type = (media_type or self.media_type).split(";")[0].strip().lower()
        return body


class RawJSONParser(_RawParser):
    media_type = "application/json"


class CSVParser(_RawParser):
    media_type = "text/csv"


class PlainTextParser(_RawParser):
    media_type = "text/plain"


class CSVRenderer(BaseRenderer):
    """``text/csv``: the export streams its own response; only errors are rendered here."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict):
            return "\n".join(f"{key}: {value}" for key, value in data.items()) + "\n"
        return str(data or "")


# --- permissions ------------------------------------------------------------------------------


class ImportPermission(RolePermission):
    """Imports create and update CIs: ``cmdb.add_ci`` and ``cmdb.change_ci`` (agents, managers),
    and a token that may write."""

    perms_map = {
        **RolePermission.perms_map,
        "POST": ["%(app_label)s.add_%(model_name)s", "%(app_label)s.change_%(model_name)s"],
    }


# --- schema -----------------------------------------------------------------------------------


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(allow_null=True, help_text="1-based data row (host) number; null: the file.")
    line = serializers.IntegerField(allow_null=True, help_text="CSV line the row starts on.")
    field = serializers.CharField(help_text="The column (or `file`, `facts`).")
    message = serializers.CharField()


class ImportRowSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    line = serializers.IntegerField(allow_null=True)
    action = serializers.ChoiceField(choices=["create", "update", "unchanged", "error"])
    id = serializers.IntegerField(allow_null=True, help_text="The CI (null for a CI a dry run would create).")
    name = serializers.CharField()
    ci_class = serializers.CharField(allow_null=True, help_text="The class's slug (key `class`).")
    changed = serializers.ListField(child=serializers.CharField(), help_text="The fields an update changes.")
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class ImportSummarySerializer(serializers.Serializer):
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = serializers.IntegerField()


class ImportReportSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    key = serializers.CharField()
    ok = serializers.BooleanField(help_text="No row has an error.")
    committed = serializers.BooleanField(help_text="The changes were kept (not a dry run, and ok).")
    summary = ImportSummarySerializer()
    rows = ImportRowSerializer(many=True)
    errors = ImportErrorSerializer(many=True)


class ImportJSONSerializer(serializers.Serializer):
    rows = serializers.ListField(
        child=serializers.DictField(), help_text="One object per CI, keyed by the import columns (or send a list)."
    )
    dry_run = serializers.BooleanField(required=False, default=False)
    key = serializers.ChoiceField(choices=list(imports.KEYS), required=False, default="name")


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV (UTF-8, header line) or JSON.")
    format = serializers.ChoiceField(
        choices=list(imports.FORMATS), required=False, help_text="Default: from the file's name or content."
    )
    dry_run = serializers.BooleanField(required=False, default=False)
    key = serializers.ChoiceField(choices=list(imports.KEYS), required=False, default="name")


class FactsUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="`ansible -m setup` output, ansible_facts JSON or `facter --json`.")
    environment = serializers.ChoiceField(choices=Environment.choices, required=False, default="production")
    owner_team = serializers.CharField(required=False, help_text="The team (name) that owns the CIs created.")
    dry_run = serializers.BooleanField(required=False, default=False)


DRY_RUN = OpenApiParameter(
    "dry_run", OpenApiTypes.BOOL, description="Validate and report, write nothing (also accepted in the body)."
)
KEY = OpenApiParameter(
    "key", OpenApiTypes.STR, enum=list(imports.KEYS), description="Upsert by class + name (default) or external_id."
)
FORMAT = OpenApiParameter(
    "format", OpenApiTypes.STR, enum=list(imports.FORMATS), description="The body's format, when not clear."
)
REPORT_RESPONSES = {
    200: OpenApiResponse(ImportReportSerializer, description="A valid dry run: what would change."),
    201: OpenApiResponse(ImportReportSerializer, description="Imported: every row was applied."),
    400: OpenApiResponse(ImportReportSerializer, description="Nothing written: the errors, by row and field."),
}


# --- helpers ----------------------------------------------------------------------------------


class _BadRequest(Exception):
    def __init__(self, field, message):
        self.field, self.message = field, message


def _boolean(value, name):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise _BadRequest(name, f"“{value}” is not true or false.")


class _Body:
    """The request's payload (file or body) and its parameters (query string, form fields, or the
    keys of a JSON object body)."""

    def __init__(self, request, file_field="file", json_params=()):
        self.content, self.media_type, self.filename = None, "", ""
        self.fields = {}
        data = request.data
        if isinstance(data, RawBody):
            self.content, self.media_type = bytes(data), data.media_type
            if data.media_type == "application/json":
                try:
                    decoded = json.loads(bytes(data).decode("utf-8-sig"))
                except (ValueError, UnicodeDecodeError):
                    decoded = None
                if isinstance(decoded, dict):
                    self.fields = {k: v for k, v in decoded.items() if k in json_params}
        elif hasattr(data, "getlist"):  # multipart form
            upload = request.FILES.get(file_field)
            self.fields = {key: data.get(key) for key in data if key != file_field}
            if upload is not None:
                if upload.size > max_import_bytes():
                    raise _too_large()
                self.content = upload.read()
                self.filename = upload.name or ""
                self.media_type = (upload.content_type or "").split(";")[0].lower()
        for key, value in request.query_params.items():
            self.fields.setdefault(key, value)

    def param(self, name, default=None):
        value = self.fields.get(name)
        return default if value is None else value


def _file_error_response(field, messages, dry_run, key):
    messages = messages if isinstance(messages, list) else [messages]
    body = imports.ImportReport(dry_run=dry_run, key=key).as_dict()
    body["errors"] = [{"row": None, "line": None, "field": field, "message": m} for m in messages]
    body[field] = messages
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


def _report_response(report):
    body = report.as_dict()
    if not report.ok:
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    return Response(body, status=status.HTTP_200_OK if report.dry_run else status.HTTP_201_CREATED)


def _guess_format(body):
    explicit = body.param("format")
    if explicit:
        return str(explicit).lower()
    name = body.filename.lower()
    if name.endswith(".json") or body.media_type == "application/json":
        return "json"
    if name.endswith((".csv", ".txt")) or body.media_type in ("text/csv", "text/plain"):
        return "csv"
    start = (body.content or b"").lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return "json" if start in (b"[", b"{") else "csv"


NO_BODY = (
    "Send the file as the request body (Content-Type: text/csv or application/json) or as the multipart field “file”."
)


# --- views ------------------------------------------------------------------------------------


class CIImportView(APIView):
    """Bulk upsert of CIs from CSV or JSON, all or nothing (see docs/cmdb-integrations.md)."""

    queryset = CI.objects.none()
    permission_classes = [ImportPermission]
    parser_classes = [RawJSONParser, CSVParser, PlainTextParser, MultiPartParser]

    @extend_schema(
        operation_id="cmdb_import",
        summary="Import CIs (CSV or JSON upsert)",
        request={
            "text/csv": OpenApiTypes.STR,
            "application/json": ImportJSONSerializer,
            "multipart/form-data": ImportUploadSerializer,
        },
        parameters=[DRY_RUN, KEY, FORMAT],
        responses=REPORT_RESPONSES,
        tags=["cmdb"],
    )
    def post(self, request):
        body = _Body(request, json_params=("dry_run", "key", "format"))
        dry_run, key = False, "name"
        try:
            dry_run = _boolean(body.param("dry_run", False), "dry_run")
            key = str(body.param("key", "name"))
            if key not in imports.KEYS:
                raise _BadRequest("key", f"“{key}” is not a key: use name or external_id.")
            if not body.content:
                raise _BadRequest("file", NO_BODY)
            rows = imports.parse(body.content, _guess_format(body), key=key)
            report = services.import_cis(rows, key=key, dry_run=dry_run)
        except _BadRequest as exc:
            return _file_error_response(exc.field, exc.message, dry_run, key)
        except ValidationError as exc:
            field, messages = next(iter(exc.message_dict.items()))
            return _file_error_response(field, messages, dry_run, key)
        return _report_response(report)


class FactsImportView(APIView):
    """Create or update server and VM CIs from host facts (``ansible -m setup``, ``facter --json``)."""

    queryset = CI.objects.none()
    permission_classes = [ImportPermission]
    parser_classes = [RawJSONParser, PlainTextParser, MultiPartParser]

    @extend_schema(
        operation_id="cmdb_import_facts",
        summary="Import host facts (Ansible setup, facter)",
        request={
            "application/json": OpenApiTypes.OBJECT,
            "text/plain": OpenApiTypes.STR,
            "multipart/form-data": FactsUploadSerializer,
        },
        parameters=[
            DRY_RUN,
            OpenApiParameter(
                "environment",
                OpenApiTypes.STR,
                enum=Environment.values,
                description="Environment of the CIs created, and where an FQDN is matched (default production).",
            ),
            OpenApiParameter(
                "owner_team", OpenApiTypes.STR, description="Team (name) owning the CIs created or unowned."
            ),
        ],
        responses=REPORT_RESPONSES,
        tags=["cmdb"],
    )
    def post(self, request):
        body = _Body(request)
        dry_run = False
        try:
            dry_run = _boolean(body.param("dry_run", False), "dry_run")
            if not body.content:
                raise _BadRequest("facts", NO_BODY.replace("text/csv", "text/plain"))
            report = services.import_host_facts(
                body.content,
                environment=str(body.param("environment", Environment.PRODUCTION)),
                owner_team=body.param("owner_team") or None,
                dry_run=dry_run,
            )
        except _BadRequest as exc:
            return _file_error_response(exc.field, exc.message, dry_run, "facts")
        except ValidationError as exc:
            field, messages = next(iter(exc.message_dict.items()))
            return _file_error_response(field, messages, dry_run, "facts")
        return _report_response(report)


class _FilteredCIs:
    queryset = CI.objects.all()
    filter_backends = [DjangoFilterBackend]
    filterset_class = CIFilterSet

    def filtered(self, request):
        queryset = CI.objects.all()
        for backend in self.filter_backends:
            queryset = backend().filter_queryset(request, queryset, self)
        return queryset


class CIExportView(_FilteredCIs, APIView):
    """Every CI the filters select (not one page), as CSV in the import format."""

    renderer_classes = [JSONRenderer, CSVRenderer]

    @extend_schema(
        operation_id="cmdb_cis_export",
        summary="Export CIs as CSV (the import format)",
        filters=True,
        responses={(200, "text/csv"): OpenApiTypes.STR},
        tags=["cmdb"],
    )
    def get(self, request):
        queryset = self.filtered(request)
        response = StreamingHttpResponse(imports.export_csv_lines(queryset), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="cis.csv"'
        return response


class AnsibleInventoryView(_FilteredCIs, APIView):
    """The Ansible dynamic inventory (``ansible-inventory --list`` format) of the CIs the filters
    select; ``contrib/itom-ansible-inventory`` serves it to Ansible."""

    @extend_schema(
        operation_id="cmdb_inventory_ansible",
        summary="Ansible dynamic inventory",
        filters=True,
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="`_meta.hostvars`, `all.children` and one object per group with `hosts` and `children`.",
            )
        },
        tags=["cmdb"],
    )
    def get(self, request):
        return Response(inventory.ansible_inventory(self.filtered(request)))
