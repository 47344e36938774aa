"""The import page: CSV/JSON bulk upsert and host facts, each with a dry-run preview.

"Preview" runs the import as a dry run and shows what each row would do; "Import" runs it for
real, all or nothing: when any row is bad nothing is written and the table says which row, which
field and why. Open to users who may add and change CIs (agents and managers).
"""

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from cmdb import imports, services
from cmdb.filters import CIFilterSet
from cmdb.forms.imports import COMMIT, BulkImportForm, HostFactsForm
from cmdb.models import CI

BULK, FACTS = "bulk", "facts"
IMPORT_PERMISSIONS = ("cmdb.add_ci", "cmdb.change_ci")


def _require_import_permission(request):
    if not request.user.has_perms(IMPORT_PERMISSIONS):
        raise PermissionDenied


def _add_errors(form, exc, default_field):
    """Put a parse or service ``ValidationError`` on the form: an error about the content (``file``)
    on ``default_field``, where the content came from (the file or the pasted text); others on the
    field they name (``key``, ``owner_team``…) when the form has it, else on ``default_field``."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"file": exc.messages}
    for field, field_messages in errors.items():
        target = field if field in form.fields and field != "file" else default_field
        form.add_error(target, field_messages)


def _announce(request, report, what):
    if report.dry_run:
        return
    if report.ok:
        messages.success(
            request,
            f"Imported {what}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged.",
        )
    else:
        messages.error(
            request,
            f"Nothing was imported: {report.errors} row{'' if report.errors == 1 else 's'} "
            f"{'has' if report.errors == 1 else 'have'} errors (see the table).",
        )


def _run_bulk(request, form):
    data = form.cleaned_data
    try:
        rows = imports.parse(data["payload"], data["resolved_format"], key=data["key"])
        report = services.import_cis(rows, key=data["key"], dry_run=request.POST.get("action") != COMMIT)
    except ValidationError as exc:
        _add_errors(form, exc, data["source"])
        return None
    _announce(request, report, "CIs")
    return report


def _run_facts(request, form):
    data = form.cleaned_data
    try:
        report = services.import_host_facts(
            data["facts"],
            environment=data["environment"],
            owner_team=data["owner_team"],
            dry_run=request.POST.get("action") != COMMIT,
        )
    except ValidationError as exc:
        _add_errors(form, exc, "facts")
        return None
    _announce(request, report, "hosts")
    return report


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request):
    _require_import_permission(request)
    section = request.POST.get("section") if request.method == "POST" else request.GET.get("section")
    section = FACTS if section == FACTS else BULK
    bulk_form = BulkImportForm(prefix=BULK)
    facts_form = HostFactsForm(prefix=FACTS)
    report = None
    if request.method == "POST" and section == BULK:
        bulk_form = BulkImportForm(request.POST, request.FILES, prefix=BULK)
        if bulk_form.is_valid():
            report = _run_bulk(request, bulk_form)
    elif request.method == "POST":
        facts_form = HostFactsForm(request.POST, prefix=FACTS)
        if facts_form.is_valid():
            report = _run_facts(request, facts_form)
    carried = None
    if section == BULK and bulk_form.is_bound and hasattr(bulk_form, "cleaned_data"):
        data = bulk_form.cleaned_data
        if data.get("source") == "file" and "payload" in data and not (report and report.committed):
            # Carry the previewed file in the page, so "Import" commits exactly what was shown.
            carried = {"content": data["payload"], "name": data.get("source_name") or "the file"}
    context = {
        "title": "Import CIs",
        "section": section,
        "bulk_form": bulk_form,
        "facts_form": facts_form,
        "report": report,
        "carried": carried,
        "csv_columns": imports.CSV_COLUMNS,
    }
    return render(request, "cmdb/import.html", context)


@login_required
@require_GET
def import_template(request):
    """An empty CSV with the import's header row."""
    _require_import_permission(request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="cmdb-import-template.csv"'
    csv.writer(response).writerow(imports.CSV_COLUMNS)
    return response


@login_required
@require_GET
def import_export(request):
    """The CIs (all, or those the CI list's filters in the query string select) in the import's
    format, with their classes' ``attr:`` columns: edit the file and import it back."""
    if not request.user.has_perm("cmdb.view_ci"):
        raise PermissionDenied
    cis = CIFilterSet(request.GET or None, queryset=CI.objects.order_by("pk"), request=request).qs
    response = StreamingHttpResponse(imports.export_csv_lines(cis), content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="cmdb-cis-{stamp}.csv"'
    return response
