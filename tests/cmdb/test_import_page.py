"""The import page: CSV/JSON bulk upsert and host facts, previewed (dry run) then committed."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cmdb.imports import CSV_COLUMNS
from cmdb.models import CI
from itom.models import ObjectChange
from tests.factories import CIFactory, TeamFactory, ci_class

pytestmark = pytest.mark.django_db

GOOD_CSV = """class,name,environment,criticality,owner_team,fqdn,ip_addresses,tags,attr:cpu_count
linux-server,web-01,production,2,Network,web-01.example.com,"10.0.0.11, 10.0.0.12",pci,8
linux-server,web-02,staging,3,,web-02.example.com,10.0.0.21,,4
"""

# Row 2 has a bad IP address and an attribute of the wrong type; row 3 an unknown class.
BAD_CSV = """class,name,ip_addresses,attr:cpu_count
linux-server,web-01,10.0.0.11,8
linux-server,web-02,10.0.0.300,many
no-such-class,web-03,,
"""

ANSIBLE_SETUP = """web-07.example.com | SUCCESS => {
    "ansible_facts": {
        "ansible_hostname": "web-07",
        "ansible_fqdn": "web-07.example.com",
        "ansible_system": "Linux",
        "ansible_distribution": "Debian",
        "ansible_distribution_version": "12.5",
        "ansible_kernel": "6.1.0-18-amd64",
        "ansible_architecture": "x86_64",
        "ansible_processor_vcpus": 4,
        "ansible_memtotal_mb": 7940,
        "ansible_default_ipv4": {"address": "10.0.0.70", "interface": "eth0"},
        "ansible_all_ipv4_addresses": ["10.0.0.70"],
        "ansible_product_serial": "CZ2140ABCD",
        "ansible_system_vendor": "HPE",
        "ansible_product_name": "ProLiant DL360 Gen10",
        "ansible_virtualization_role": "host",
        "ansible_virtualization_type": "kvm"
    },
    "changed": false
}
"""


@pytest.fixture
def network(db):
    return TeamFactory(name="Network")


def bulk(action="preview", text="", file=None, key="name", fmt="auto", **extra):
    data = {"section": "bulk", "action": action, "bulk-text": text, "bulk-key": key, "bulk-format": fmt, **extra}
    if file is not None:
        data["bulk-file"] = file
    return data


def facts(action="preview", payload=ANSIBLE_SETUP, environment="production", team=None):
    data = {"section": "facts", "action": action, "facts-facts": payload, "facts-environment": environment}
    if team is not None:
        data["facts-owner_team"] = str(team.pk)
    return data


def report_rows(response):
    return [(row.row, row.action, row.name) for row in response.context["report"].rows]


# Access -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "status"), [("victor", 403), ("alice", 200), ("maria", 200)])
def test_the_page_is_for_those_who_may_add_and_change_cis(client, people, who, status):
    client.force_login(people[who])
    assert client.get("/cmdb/import/").status_code == status
    assert client.post("/cmdb/import/", bulk(action="import", text=GOOD_CSV)).status_code == status
    assert client.get("/cmdb/import/template.csv").status_code == status
    if status == 403:
        assert not CI.objects.exists()


def test_a_viewer_cannot_import_host_facts(client, victor):
    client.force_login(victor)
    assert client.post("/cmdb/import/", facts(action="import")).status_code == 403
    assert not CI.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/cmdb/import/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


# Bulk CSV / JSON ----------------------------------------------------------------------------


def test_the_preview_shows_each_rows_action_and_writes_nothing(alice_client, network):
    existing = CIFactory(name="web-02", ci_class=ci_class("linux-server"), environment="staging")
    before = ObjectChange.objects.count()
    response = alice_client.post("/cmdb/import/", bulk(text=GOOD_CSV))
    assert response.status_code == 200
    report = response.context["report"]
    assert report.dry_run and report.ok
    assert report_rows(response) == [(1, "create", "web-01"), (2, "update", "web-02")]
    body = response.content.decode()
    assert "Preview (dry run): nothing has been written" in body
    assert f'href="/cmdb/cis/{existing.pk}/"' in body  # the existing CI is linked
    assert 'class="badge text-bg-success">create' in body and 'class="badge text-bg-primary">update' in body
    assert list(CI.objects.values_list("name", flat=True)) == ["web-02"]
    assert ObjectChange.objects.count() == before
    existing.refresh_from_db()
    assert existing.attributes == {}


def test_import_commits_every_row(alice_client, alice, network):
    response = alice_client.post("/cmdb/import/", bulk(action="import", text=GOOD_CSV))
    assert response.status_code == 200
    report = response.context["report"]
    assert not report.dry_run and report.ok and report.created == 2
    web01 = CI.objects.get(name="web-01")
    assert web01.ip_addresses == ["10.0.0.11", "10.0.0.12"]
    assert web01.owner_team == network and web01.criticality == 2
    assert web01.attributes == {"cpu_count": 8}
    assert list(web01.tags.values_list("name", flat=True)) == ["pci"]
    assert CI.objects.get(name="web-02").environment == "staging"
    body = response.content.decode()
    assert "Imported CIs: 2 created, 0 updated, 0 unchanged." in body
    assert f'href="/cmdb/cis/{web01.pk}/"' in body
    assert ObjectChange.objects.filter(object_repr="web-01", action="create", user=alice).exists()
    # The same content again changes nothing.
    again = alice_client.post("/cmdb/import/", bulk(action="import", text=GOOD_CSV))
    assert report_rows(again) == [(1, "unchanged", "web-01"), (2, "unchanged", "web-02")]


def test_a_bad_row_writes_nothing_and_the_table_names_row_field_and_reason(alice_client):
    response = alice_client.post("/cmdb/import/", bulk(action="import", text=BAD_CSV))
    assert response.status_code == 200
    assert not CI.objects.exists()  # web-01 was fine, but it is all or nothing
    report = response.context["report"]
    assert not report.ok and [row.action for row in report.rows] == ["create", "error", "error"]
    bad = {(row.row, field) for row in report.rows for field in row.errors}
    assert {(2, "ip_addresses"), (2, "attr:cpu_count"), (3, "class")} <= bad
    body = response.content.decode()
    assert "Nothing was imported" in body
    assert "<code>ip_addresses</code>: " in body and "10.0.0.300" in body
    assert "<code>class</code>: Unknown class “no-such-class”" in body
    assert '<tr class="import-row import-error table-danger" data-row="3">' in body
    assert "(line 3)" in body  # the CSV line, next to the row number


def test_a_malformed_file_is_a_form_error_not_a_500(alice_client):
    response = alice_client.post("/cmdb/import/", bulk(text="name,colour\nweb-01,blue\n"))
    assert response.status_code == 200
    assert response.context["report"] is None
    assert "Unknown column “colour”" in str(response.context["bulk_form"].errors["text"])
    missing = alice_client.post("/cmdb/import/", bulk(text="name\nweb-01\n"))
    assert "Missing column “class”" in missing.content.decode()
    empty = alice_client.post("/cmdb/import/", bulk(text="  "))
    assert "Choose a file or paste the content." in empty.content.decode()


def test_an_uploaded_file_is_previewed_then_the_carried_content_is_imported(alice_client, network):
    upload = SimpleUploadedFile("estate.csv", GOOD_CSV.encode("utf-8-sig"), content_type="text/csv")
    preview = alice_client.post("/cmdb/import/", bulk(file=upload))
    assert preview.context["report"].ok and preview.context["carried"]["name"] == "estate.csv"
    body = preview.content.decode()
    assert 'name="bulk-content" value="class,name,environment' in body
    assert not CI.objects.exists()
    carried = preview.context["carried"]
    commit = alice_client.post(
        "/cmdb/import/",
        bulk(action="import", **{"bulk-content": carried["content"], "bulk-content_name": carried["name"]}),
    )
    assert commit.context["report"].committed
    assert set(CI.objects.values_list("name", flat=True)) == {"web-01", "web-02"}
    assert commit.context["carried"] is None  # done: nothing left to carry


def test_json_is_detected_and_the_external_id_key_updates_by_it(alice_client):
    ci = CIFactory(name="old-name", ci_class=ci_class("application"), external_id="app-17")
    rows = [{"external_id": "app-17", "name": "billing", "criticality": 1, "attributes": {"version": "2.4"}}]
    upload = SimpleUploadedFile("apps.json", json.dumps(rows).encode(), content_type="application/json")
    response = alice_client.post("/cmdb/import/", bulk(action="import", file=upload, key="external_id"))
    assert report_rows(response) == [(1, "update", "billing")]
    ci.refresh_from_db()
    assert (ci.name, ci.criticality, ci.attributes) == ("billing", 1, {"version": "2.4"})


def test_a_file_in_another_encoding_is_refused_on_the_file_field(alice_client):
    upload = SimpleUploadedFile("estate.csv", "class,name\napplication,caf\xe9\n".encode("latin-1"))
    response = alice_client.post("/cmdb/import/", bulk(file=upload))
    assert "not UTF-8" in str(response.context["bulk_form"].errors["file"])


def test_the_template_has_the_import_header_and_the_export_reimports(alice_client, network):
    template = alice_client.get("/cmdb/import/template.csv")
    assert template["Content-Type"].startswith("text/csv")
    assert next(csv.reader(io.StringIO(template.content.decode()))) == CSV_COLUMNS
    CIFactory(name="web-01", ci_class=ci_class("linux-server"), owner_team=network, attributes={"cpu_count": 2})
    export = alice_client.get("/cmdb/import/export.csv")
    text = b"".join(export.streaming_content).decode()
    header = next(csv.reader(io.StringIO(text)))
    assert header[: len(CSV_COLUMNS)] == CSV_COLUMNS and "attr:cpu_count" in header
    again = alice_client.post("/cmdb/import/", bulk(text=text))
    assert report_rows(again) == [(1, "unchanged", "web-01")]


def test_the_page_links_the_template_and_the_export(alice_client):
    body = alice_client.get("/cmdb/import/").content.decode()
    assert 'href="/cmdb/import/template.csv"' in body and 'href="/cmdb/import/export.csv"' in body
    assert "Preview (dry run)" in body


# Host facts -----------------------------------------------------------------------------------


def test_a_facts_preview_shows_the_host_and_writes_nothing(alice_client, network):
    response = alice_client.post("/cmdb/import/", facts(team=network))
    assert response.status_code == 200
    assert response.context["section"] == "facts"
    assert report_rows(response) == [(1, "create", "web-07")]
    assert "Preview (dry run)" in response.content.decode()
    assert not CI.objects.exists()


def test_facts_import_creates_the_server_ci(alice_client, network):
    response = alice_client.post("/cmdb/import/", facts(action="import", environment="staging", team=network))
    assert response.context["report"].committed
    ci = CI.objects.get(name="web-07")
    assert ci.ci_class.slug == "linux-server" and ci.environment == "staging" and ci.owner_team == network
    assert ci.serial_number == "CZ2140ABCD" and ci.attributes["cpu_count"] == 4
    assert "Imported hosts: 1 created" in response.content.decode()


def test_unreadable_facts_are_a_form_error(alice_client):
    response = alice_client.post("/cmdb/import/", facts(payload="this is not what ansible prints"))
    assert response.status_code == 200 and response.context["report"] is None
    assert response.context["facts_form"].errors["facts"]
    assert not CI.objects.exists()
