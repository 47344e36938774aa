"""CSV/JSON import of CIs (cmdb.imports, services.import_cis, POST /api/v1/cmdb/import/) and the
CSV export that feeds it back (GET /api/v1/cmdb/cis/export/): dry runs, commits, all or nothing,
errors by row and field, the external-id key, the round trip and who may do what."""

import csv
import datetime
import io
import json

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cmdb import imports, services
from cmdb.models import CI, Tag
from itom.models import ObjectChange
from tests.factories import CIFactory, TeamFactory, ci_class

pytestmark = pytest.mark.django_db

IMPORT = "/api/v1/cmdb/import/"
EXPORT = "/api/v1/cmdb/cis/export/"


def audit_of(ci, action=None):
    changes = ObjectChange.objects.filter(content_type=ContentType.objects.get_for_model(CI), object_id=str(ci.pk))
    return changes.filter(action=action) if action else changes


def csv_text(*lines):
    return "\n".join(lines) + "\n"


@pytest.fixture
def web01(network_team):
    return services.save_ci(
        CI(
            name="web-01",
            ci_class=ci_class("linux-server"),
            fqdn="web-01.shop.example.com",
            ip_addresses=["10.20.1.11"],
            location="DC1 row 4",
            description="Front end",
            owner_team=network_team,
            attributes={"cpu_count": 4},
        ),
        tags=["web"],
    )


ESTATE_CSV = csv_text(
    "class,name,status,environment,criticality,owner_team,fqdn,ip_addresses,tags,attr:cpu_count,attr:memory_mb,"
    "install_date,description",
    "linux-server,web-01,maintenance,production,2,Network,web-01.shop.example.com,10.20.1.11 10.20.1.12,"
    "web;frontend,8,16384,2023-02-01,Front end",
    'Linux server,web-02,,staging,1,Network,web-02.shop.example.com,"10.20.2.11, 2001:db8::11",web,4,,,New box',
)


# --- dry runs -----------------------------------------------------------------------------------


def test_a_csv_dry_run_reports_every_row_and_writes_nothing(web01):
    changes_before = ObjectChange.objects.count()
    report = services.import_cis(imports.parse(ESTATE_CSV, "csv"), dry_run=True)

    assert report.ok and report.dry_run and not report.committed
    assert (report.created, report.updated, report.unchanged, report.errors) == (1, 1, 0, 0)
    update, create = report.rows
    assert (update.row, update.line, update.action, update.ci.pk) == (1, 2, "update", web01.pk)
    assert set(update.changed) >= {"status", "criticality", "ip_addresses", "attributes", "install_date", "tags"}
    assert (create.row, create.line, create.action, create.name, create.ci.pk) == (2, 3, "create", "web-02", None)
    # Nothing was written: the CI, its tags, the new tag and the audit trail are as they were.
    web01.refresh_from_db()
    assert web01.status == "active" and web01.ip_addresses == ["10.20.1.11"]
    assert list(web01.tags.values_list("name", flat=True)) == ["web"]
    assert not CI.objects.filter(name="web-02").exists()
    assert not Tag.objects.filter(name="frontend").exists()
    assert ObjectChange.objects.count() == changes_before


def test_a_json_dry_run_through_the_api_answers_200_with_the_report(alice_api, web01):
    rows = [
        {"class": "linux-server", "name": "web-01", "tags": ["web", "frontend"], "attr:cpu_count": 8},
        {"class": "virtual-machine", "name": "vm-07", "ip_addresses": ["10.9.0.7"], "attributes": {"memory_mb": 2048}},
    ]
    response = alice_api.post(IMPORT, {"rows": rows, "dry_run": True}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["dry_run"] is True and body["ok"] is True and body["committed"] is False
    assert body["summary"] == {"rows": 2, "created": 1, "updated": 1, "unchanged": 0, "errors": 0}
    assert [(r["action"], r["name"], r["ci_class"]) for r in body["rows"]] == [
        ("update", "web-01", "linux-server"),
        ("create", "vm-07", "virtual-machine"),
    ]
    assert body["rows"][0]["id"] == web01.pk and body["rows"][1]["id"] is None
    assert body["errors"] == []
    assert not CI.objects.filter(name="vm-07").exists()
    assert web01.attributes == CI.objects.get(pk=web01.pk).attributes == {"cpu_count": 4}


def test_dry_run_is_also_read_from_the_query_string_and_a_multipart_upload(alice_api):
    content = csv_text("class,name", "application,billing").encode()
    response = alice_api.post(f"{IMPORT}?dry_run=1", content, content_type="text/csv")
    assert response.status_code == 200, response.content
    upload = SimpleUploadedFile("cis.csv", content, content_type="text/csv")
    response = alice_api.post(IMPORT, {"file": upload, "dry_run": "true"}, format="multipart")
    assert response.status_code == 200, response.content
    assert response.json()["summary"]["created"] == 1
    assert not CI.objects.filter(name="billing").exists()


# --- commits --------------------------------------------------------------------------------------


def test_a_committed_csv_import_creates_and_updates_and_is_audited(alice_api, alice, web01):
    response = alice_api.post(IMPORT, ESTATE_CSV, content_type="text/csv")

    assert response.status_code == 201, response.content
    assert response.json()["committed"] is True
    web01.refresh_from_db()
    assert web01.status == "maintenance" and web01.criticality == 2
    assert web01.ip_addresses == ["10.20.1.11", "10.20.1.12"]
    assert web01.attributes == {"cpu_count": 8, "memory_mb": 16384}
    assert web01.install_date == datetime.date(2023, 2, 1)
    assert sorted(web01.tags.values_list("name", flat=True)) == ["frontend", "web"]
    assert web01.location == "DC1 row 4"  # no location column: left as it was

    web02 = CI.objects.get(name="web-02")
    assert web02.ci_class.slug == "linux-server" and web02.environment == "staging"
    assert web02.status == "active"  # empty: the default
    assert web02.ip_addresses == ["10.20.2.11", "2001:db8::11"]
    assert web02.owner_team.name == "Network" and web02.criticality == 1
    assert web02.attributes == {"cpu_count": 4} and web02.description == "New box"

    assert audit_of(web02, "create").get().user == alice
    assert audit_of(web01, "update").filter(user=alice).exists()


def test_importing_the_same_file_again_changes_nothing(alice_api, web01):
    assert alice_api.post(IMPORT, ESTATE_CSV, content_type="text/csv").status_code == 201
    changes = ObjectChange.objects.count()
    stamp = CI.objects.get(pk=web01.pk).updated_at

    response = alice_api.post(IMPORT, ESTATE_CSV, content_type="text/csv")

    assert response.status_code == 201
    assert response.json()["summary"] == {"rows": 2, "created": 0, "updated": 0, "unchanged": 2, "errors": 0}
    assert ObjectChange.objects.count() == changes
    assert CI.objects.get(pk=web01.pk).updated_at == stamp


def test_an_absent_column_leaves_a_field_and_an_empty_one_clears_it(web01):
    rows = imports.parse(
        csv_text("class,name,description,ip_addresses,tags,attr:cpu_count", "linux-server,web-01,,,,"), "csv"
    )
    report = services.import_cis(rows)

    assert report.committed, report.error_list()
    web01.refresh_from_db()
    assert (web01.description, web01.ip_addresses, web01.attributes) == ("", [], {})
    assert not web01.tags.exists()
    assert web01.location == "DC1 row 4" and web01.fqdn == "web-01.shop.example.com"


# --- bad input: all or nothing, errors by row and field -------------------------------------------


def test_one_bad_row_rolls_back_the_whole_import_and_every_row_is_still_checked(alice_api, web01):
    content = csv_text(
        "class,name,ip_addresses,status",
        "application,billing-api,10.1.0.5,active",
        "application,billing-db,10.1.0.300,active",
        "linux-server,web-01,10.20.1.11,retired",
        "application,billing-web,10.1.0.6,sleeping",
    )
    response = alice_api.post(IMPORT, content, content_type="text/csv")

    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False and body["committed"] is False
    assert [r["action"] for r in body["rows"]] == ["create", "error", "update", "error"]
    assert body["errors"][0] == {
        "row": 2,
        "line": 3,
        "field": "ip_addresses",
        "message": "Not a valid IPv4 or IPv6 address: '10.1.0.300'.",
    }
    assert body["errors"][1]["row"] == 4 and body["errors"][1]["field"] == "status"
    assert "sleeping" in body["errors"][1]["message"]
    assert not CI.objects.filter(name__startswith="billing").exists()
    assert CI.objects.get(pk=web01.pk).status == "active"


def test_a_missing_column_is_a_400_naming_it_and_nothing_is_written(alice_api):
    response = alice_api.post(IMPORT, csv_text("class,fqdn", "application,app.example.com"), content_type="text/csv")

    assert response.status_code == 400
    body = response.json()
    assert body["file"] == ["Missing column “name” (class and name identify a CI)."]
    assert body["errors"] == [{"row": None, "line": None, "field": "file", "message": body["file"][0]}]
    assert not CI.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (csv_text("class,name,colour", "application,a,red"), "Unknown column “colour” (column 3)"),
        (csv_text("class,name,name", "application,a,b"), "Column “name” appears twice"),
        (csv_text("class,name", "application,a,extra"), "Line 2 has 3 values but the header has 2 columns"),
        ("\r\n\r\n", "The file is empty"),
        (csv_text("class,name"), "The file has no rows"),
    ],
)
def test_an_unreadable_csv_is_a_400_on_file(alice_api, content, message):
    response = alice_api.post(IMPORT, content, content_type="text/csv")
    assert response.status_code == 400
    assert message in response.json()["file"][0]


def test_bad_json_is_a_400_on_file_saying_where(alice_api):
    response = alice_api.post(IMPORT, '[{"class": "application", "name": }]', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["file"] == ["Not valid JSON: Expecting value (line 1, column 35)."]


def test_an_unknown_class_is_named_in_its_row(alice_api):
    rows = [{"class": "application", "name": "ok"}, {"class": "mainframe", "name": "big-iron"}]
    response = alice_api.post(IMPORT, rows, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "row": 2,
            "line": None,
            "field": "class",
            "message": "Unknown class “mainframe” (use a class's slug or name).",
        }
    ]
    assert not CI.objects.exists()


def test_an_attribute_of_the_wrong_type_is_named_with_its_row_and_the_reason(alice_api):
    content = csv_text("class,name,attr:cpu_count", "linux-server,db-01,8", "linux-server,db-02,lots")
    response = alice_api.post(IMPORT, content, content_type="text/csv")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"row": 2, "line": 3, "field": "attr:cpu_count", "message": "Expected a whole number, got 'lots'."}
    ]
    rows = [{"class": "linux-server", "name": "db-03", "attributes": {"cpu_count": "8", "colour": "red"}}]
    errors = alice_api.post(IMPORT, rows, format="json").json()["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [(1, "attributes"), (1, "attributes")]
    assert "cpu_count: expected a whole number, got '8'." in [e["message"] for e in errors]
    assert not CI.objects.exists()


def test_an_attribute_the_class_does_not_have_is_named(web01):
    report = services.import_cis([{"class": "linux-server", "name": "web-01", "attr:port": "80"}])
    assert report.rows[0].errors == {
        "attr:port": [
            "“port” is not an attribute of class “Linux server” (its attributes: architecture, "
            "cpu_count, kernel, memory_mb, rack_unit)."
        ]
    }


def test_other_bad_values_are_named_per_field():
    rows = [
        {
            "class": "application",
            "name": "x",
            "criticality": "9",
            "environment": "moon",
            "owner_team": "Nobody",
            "warranty_end": "31/12/2025",
            "fqdn": "not a host",
            "tags": ["good", "bad tag!"],
        }
    ]
    report = services.import_cis(rows)

    errors = report.rows[0].errors
    assert set(errors) == {"criticality", "environment", "owner_team", "warranty_end", "fqdn", "tags"}
    assert errors["owner_team"] == ["No team is named “Nobody”."]
    assert errors["warranty_end"] == ["Enter a date as YYYY-MM-DD (got “31/12/2025”)."]
    assert not Tag.objects.filter(name="good").exists()


def test_a_uniqueness_rule_is_reported_on_its_field(web01):
    CIFactory(name="other", serial_number="SN-1")
    report = services.import_cis([{"class": "linux-server", "name": "web-01", "serial_number": "SN-1"}])
    assert report.rows[0].errors == {"serial_number": ["Another CI has this serial number."]}


def test_the_same_ci_twice_in_one_file_is_an_error_on_the_later_row():
    content = csv_text("class,name", "application,billing", "Application,BILLING")
    report = services.import_cis(imports.parse(content, "csv"))
    assert report.rows[0].action == "create"
    assert report.rows[1].errors == {"name": ["Duplicate of row 1: the same CI can't appear twice in one import."]}
    assert not CI.objects.exists()


def test_too_many_rows_is_refused_before_anything_is_read(monkeypatch):
    monkeypatch.setattr(imports, "MAX_ROWS", 3)
    content = csv_text("class,name", *(f"application,app-{n}" for n in range(4)))
    with pytest.raises(ValidationError) as caught:
        imports.parse(content, "csv")
    assert "at most 3 can be imported" in caught.value.message_dict["file"][0]


def test_a_utf8_bom_and_semicolon_separated_csv_are_read():
    content = "\ufeffclass;name;location\r\napplication;Café;Zürich\r\n".encode()
    rows = imports.parse(content, "csv")
    assert rows == [{"class": "application", "name": "Café", "location": "Zürich"}]
    with pytest.raises(ValidationError):
        imports.parse("class,name\napplication,x\n".encode("utf-16"), "csv")


# --- key = external_id ------------------------------------------------------------------------------


def test_key_external_id_updates_by_external_id_and_creates_with_class_and_name(alice_api):
    known = CIFactory(name="crm", external_id="snow-0042", status="active")
    rows = [
        {"external_id": "snow-0042", "status": "maintenance", "name": "crm-prod"},
        {"external_id": "snow-0043", "class": "database", "name": "crm-db", "attr:engine": "postgresql"},
    ]
    response = alice_api.post(f"{IMPORT}?key=external_id", rows, format="json")

    assert response.status_code == 201, response.content
    known.refresh_from_db()
    assert (known.status, known.name, known.ci_class.slug) == ("maintenance", "crm-prod", "application")
    created = CI.objects.get(external_id="snow-0043")
    assert created.ci_class.slug == "database" and created.attributes == {"engine": "postgresql"}


def test_key_external_id_needs_class_and_name_only_to_create():
    report = services.import_cis(
        [{"external_id": "snow-9", "status": "active"}, {"status": "active"}], key="external_id"
    )
    assert report.rows[0].errors == {
        "class": ["Required to create a CI: no CI has the external id “snow-9”."],
        "name": ["Required to create a CI: no CI has the external id “snow-9”."],
    }
    assert report.rows[1].errors == {"external_id": ["Required: the import's key is external_id."]}
    with pytest.raises(ValidationError) as caught:
        imports.parse(csv_text("class,name", "application,a"), "csv", key="external_id")
    assert caught.value.message_dict == {"file": ["Missing column “external_id” (the key is external_id)."]}


def test_an_unknown_key_is_a_400(alice_api):
    response = alice_api.post(f"{IMPORT}?key=serial", csv_text("class,name", "application,a"), content_type="text/csv")
    assert response.status_code == 400 and "key" in response.json()


# --- export and the round trip -------------------------------------------------------------------


def test_an_export_imports_back_unchanged(alice_api, network_team):
    services.save_ci(
        CI(
            name="core-sw-1",
            ci_class=ci_class("switch"),
            status="active",
            environment="production",
            criticality=1,
            owner_team=network_team,
            location="DC1, row 2",
            fqdn="core-sw-1.net.example.com",
            ip_addresses=["10.0.0.2", "2001:db8::2"],
            serial_number="FOC1234X0AB",
            asset_tag="A-100",
            manufacturer="Cisco",
            model="C9500-48Y4C",
            operating_system="IOS XE 17.9",
            install_date=datetime.date(2022, 5, 1),
            warranty_end=datetime.date(2027, 4, 30),
            end_of_life=datetime.date(2030, 1, 1),
            description='=HYPERLINK("x") is not a formula here\nsecond line',
            external_id="net-1",
            attributes={"stack_member": True, "port_count": 48, "management_ip": "10.0.0.2"},
        ),
        tags=["core", "network"],
    )
    CIFactory(name="billing", ci_class=ci_class("database"), attributes={"size_gb": 12.5, "engine": "postgresql"})
    before = {ci.pk: imports.snapshot(ci) for ci in CI.objects.all()}

    response = alice_api.get(EXPORT)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    content = b"".join(response.streaming_content).decode()
    header, *lines = list(csv.reader(io.StringIO(content)))
    assert header[: len(imports.CSV_COLUMNS)] == imports.CSV_COLUMNS
    assert {"attr:stack_member", "attr:size_gb", "attr:port_count"} <= set(header)
    assert len(lines) == 2
    assert "'=HYPERLINK" in content  # a spreadsheet won't run it

    report = services.import_cis(imports.parse(content, "csv"))
    assert report.committed and report.unchanged == 2, report.error_list()
    assert {ci.pk: imports.snapshot(ci) for ci in CI.objects.all()} == before


def test_the_export_applies_the_list_filters_and_answers_in_bounded_queries(alice_api, django_assert_max_num_queries):
    for n in range(30):
        CIFactory(name=f"app-{n:02d}", environment="staging" if n % 3 else "production", tags=["web"])
    with django_assert_max_num_queries(12):
        response = alice_api.get(EXPORT, {"environment": "production", "tag": "web"})
        content = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(content)))
    assert len(rows) == 10 and {row["environment"] for row in rows} == {"production"}
    assert alice_api.get(EXPORT, {"environment": "moon"}).status_code == 400


# --- who may import and export ---------------------------------------------------------------------


def test_viewers_and_read_only_tokens_cannot_import(victor_api, alice, make_api_client, anon):
    content = csv_text("class,name", "application,a")
    assert victor_api.post(IMPORT, content, content_type="text/csv").status_code == 403
    read_only = make_api_client(alice, write=False)
    response = read_only.post(IMPORT, content, content_type="text/csv")
    assert response.status_code == 403 and response.json()["detail"] == "This API token is read-only."
    assert anon.post(IMPORT, content, content_type="text/csv").status_code in (401, 403)
    assert not CI.objects.exists()


def test_managers_may_import_and_viewers_and_read_only_tokens_may_export(
    maria_api, victor_api, alice, make_api_client, anon
):
    assert maria_api.post(IMPORT, [{"class": "application", "name": "a"}], format="json").status_code == 201
    assert victor_api.get(EXPORT).status_code == 200
    assert make_api_client(alice, write=False).get(EXPORT).status_code == 200
    assert anon.get(EXPORT).status_code in (401, 403)


def test_the_import_urls_are_named_in_the_api_namespace():
    assert reverse("api:cmdb-import") == IMPORT
    assert reverse("api:cmdb-ci-export") == EXPORT
    assert reverse("api:cmdb-import-facts") == "/api/v1/cmdb/import/facts/"
    assert reverse("api:cmdb-inventory-ansible") == "/api/v1/cmdb/inventory/ansible/"


def test_a_request_without_a_file_is_a_400_on_file(alice_api):
    response = alice_api.post(IMPORT, {"dry_run": "true"}, format="multipart")
    assert response.status_code == 400 and "multipart field “file”" in response.json()["file"][0]
    response = alice_api.post(
        f"{IMPORT}?dry_run=perhaps", csv_text("class,name", "application,a"), content_type="text/csv"
    )
    assert response.status_code == 400 and response.json()["dry_run"] == ["“perhaps” is not true or false."]
    assert json.loads(response.content)["errors"][0]["field"] == "dry_run"


def test_the_team_of_a_row_is_found_by_name_case_insensitively():
    team = TeamFactory(name="Network Operations")
    report = services.import_cis([{"class": "application", "name": "a", "owner_team": "network operations"}])
    assert report.committed
    assert CI.objects.get(name="a").owner_team == team


def test_a_file_above_the_size_limit_is_a_413_and_nothing_is_written(alice_api, settings):
    settings.CMDB_IMPORT_MAX_MB = 1
    big = "class,name,description\n" + "".join(f"application,app{i},{'x' * 200}\n" for i in range(6000))
    before = CI.objects.count()
    response = alice_api.post(reverse("api:cmdb-import"), big, content_type="text/csv")
    assert response.status_code == 413
    assert "CMDB_IMPORT_MAX_MB" in response.json()["detail"]
    upload = SimpleUploadedFile("cis.csv", big.encode(), content_type="text/csv")
    assert alice_api.post(reverse("api:cmdb-import"), {"file": upload}, format="multipart").status_code == 413
    small = "class,name\napplication,app-small\n"
    assert alice_api.post(reverse("api:cmdb-import"), small, content_type="text/csv").status_code == 201
    assert CI.objects.count() == before + 1
