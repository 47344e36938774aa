"""Host facts import (cmdb.facts, services.import_host_facts, POST /api/v1/cmdb/import/facts/) from
real-shaped fixtures: an Ubuntu VM's `ansible -m setup` output, a Dell server's and a Windows
server's ansible_facts, and `facter --json` from a VMware VM."""

import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from cmdb import services
from cmdb.facts import parse_hosts
from cmdb.models import CI
from itom.models import ObjectChange
from tests.factories import CIFactory, ci_class

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
FACTS = "/api/v1/cmdb/import/facts/"


def fixture(name):
    return (FIXTURES / name).read_text()


def facts_of(name):
    return json.loads(fixture(name))


# --- one fixture at a time: what each says ---------------------------------------------------------


def test_an_ubuntu_vm_from_ansible_adhoc_output_is_a_virtual_machine():
    report = services.import_host_facts(fixture("ansible_setup_ubuntu_vm.txt"))

    assert report.committed and report.created == 1, report.error_list()
    ci = report.rows[0].ci
    ci.refresh_from_db()
    assert ci.name == "web-01" and ci.ci_class.slug == "virtual-machine"
    assert ci.fqdn == "web-01.shop.example.com"
    # The default IPv4 first; no loopback, link-local or docker bridge address.
    assert ci.ip_addresses == ["10.20.1.11", "2001:db8:20:1::11"]
    assert ci.serial_number == ""  # "NA" is no serial
    assert (ci.manufacturer, ci.model) == ("QEMU", "Standard PC (Q35 + ICH9, 2009)")
    assert ci.operating_system == "Ubuntu 22.04"
    assert ci.attributes == {
        "cpu_count": 4,
        "memory_mb": 7941,
        "kernel": "5.15.0-105-generic",
        "architecture": "x86_64",
        "hypervisor": "kvm",
    }
    assert (ci.environment, ci.status, ci.owner_team) == ("production", "active", None)


def test_a_physical_dell_server_is_a_linux_server_identified_by_its_service_tag():
    report = services.import_host_facts(fixture("ansible_facts_dell_r650.json"))

    assert report.committed, report.error_list()
    ci = CI.objects.get()
    assert ci.name == "db-02" and ci.ci_class.slug == "linux-server"  # a KVM *host* is physical
    assert (ci.serial_number, ci.manufacturer, ci.model) == ("7XK4Q93", "Dell Inc.", "PowerEdge R650")
    assert ci.fqdn == "db-02.dc1.example.com"
    assert ci.ip_addresses == ["10.30.0.12", "2001:db8:30::12"]  # not libvirt's virbr0
    assert ci.operating_system == "RedHat 9.4"
    assert ci.attributes == {
        "cpu_count": 64,
        "memory_mb": 515496,
        "kernel": "5.14.0-427.13.1.el9_4.x86_64",
        "architecture": "x86_64",
    }


def test_a_windows_server_from_ansible_windows_setup_is_a_windows_server():
    report = services.import_host_facts(fixture("ansible_facts_windows_2022.json"))

    assert report.committed, report.error_list()
    ci = CI.objects.get()
    assert ci.name == "FS-01" and ci.ci_class.slug == "windows-server"
    assert ci.fqdn == "fs-01.corp.example.com"
    assert ci.ip_addresses == ["10.40.0.21", "10.41.0.21"]
    assert ci.operating_system == "Microsoft Windows Server 2022 Standard"
    assert (ci.serial_number, ci.manufacturer, ci.model) == ("CZJ2140K7M", "HPE", "ProLiant DL360 Gen10 Plus")
    assert ci.attributes == {"cpu_count": 64, "memory_mb": 262144, "kernel": "10.0.20348.0", "architecture": "x86_64"}


def test_facter_json_from_a_vmware_vm_is_a_virtual_machine_with_its_vmware_serial():
    report = services.import_host_facts(fixture("facter4_ubuntu_vmware.json"))

    assert report.committed, report.error_list()
    ci = CI.objects.get()
    assert ci.name == "app-03" and ci.ci_class.slug == "virtual-machine"
    assert ci.fqdn == "app-03.shop.example.com"
    assert ci.ip_addresses == ["10.20.1.23", "2001:db8:20:1::23"]
    assert ci.serial_number == "VMware-42 1c 5e 3b 8f 7a 2d 61-9c 04 d2 7e 11 a5 0b 3f"
    assert (ci.manufacturer, ci.model) == ("VMware, Inc.", "VMware Virtual Platform")
    assert ci.operating_system == "Ubuntu 22.04"
    assert ci.attributes == {
        "cpu_count": 4,
        "memory_mb": 15991,
        "kernel": "5.15.0-105-generic",
        "architecture": "x86_64",
        "hypervisor": "vmware",
    }


# --- the same host again: matched, updated -------------------------------------------------------


@pytest.mark.parametrize("name", ["ansible_facts_dell_r650.json", "facter4_ubuntu_vmware.json"])
def test_the_same_host_reported_again_updates_its_ci_found_by_serial(name):
    first = services.import_host_facts(fixture(name))
    ci = first.rows[0].ci
    services.save_ci(CI.objects.get(pk=ci.pk), tags=None)  # unchanged save: no effect
    renamed = CI.objects.get(pk=ci.pk)
    renamed.name, renamed.fqdn = "renamed-by-hand", ""
    services.save_ci(renamed)

    facts = facts_of(name)
    if "ansible_facts" in facts:
        facts["ansible_facts"]["ansible_memtotal_mb"] = 1031000
    else:
        facts["memory"]["system"]["total_bytes"] = 32 * 1024**3
    report = services.import_host_facts(facts)

    assert report.committed and report.updated == 1, report.error_list()
    assert CI.objects.count() == 1
    updated = CI.objects.get()
    assert updated.pk == ci.pk and report.rows[0].ci.pk == ci.pk
    assert updated.name == "renamed-by-hand"  # the CMDB's name is kept
    assert updated.fqdn == first.rows[0].ci.fqdn  # what the facts say is refreshed
    assert updated.attributes["memory_mb"] in (1031000, 32768)
    assert set(report.rows[0].changed) == {"fqdn", "attributes"}


def test_a_vm_without_a_serial_is_matched_by_fqdn_or_class_and_name():
    services.import_host_facts(fixture("ansible_setup_ubuntu_vm.txt"))
    ci = CI.objects.get()
    ci.name = "shop-web-1"  # renamed by hand: only the FQDN still finds it
    services.save_ci(ci)
    report = services.import_host_facts(fixture("ansible_setup_ubuntu_vm.txt"))
    assert (report.created, report.updated, report.unchanged) == (0, 0, 1)
    assert CI.objects.get().name == "shop-web-1"

    # The FQDN is matched in the import's environment only: in staging this host is another CI.
    staging = services.import_host_facts(fixture("ansible_setup_ubuntu_vm.txt"), environment="staging")
    assert staging.created == 1
    assert sorted(CI.objects.values_list("name", "environment")) == [
        ("shop-web-1", "production"),
        ("web-01", "staging"),
    ]
    # Class + name find a CI whatever its environment (they are unique), and keep its environment.
    again = services.import_host_facts(fixture("ansible_setup_ubuntu_vm.txt"), environment="test")
    assert again.unchanged == 1 and again.rows[0].ci.environment == "staging"


def test_a_ci_entered_by_hand_is_completed_by_its_facts():
    by_hand = CIFactory(
        name="db-02", ci_class=ci_class("linux-server"), location="DC1 row 7", attributes={"rack_unit": "U12"}
    )
    report = services.import_host_facts(fixture("ansible_facts_dell_r650.json"))

    assert report.rows[0].action == "update" and report.rows[0].ci.pk == by_hand.pk
    by_hand.refresh_from_db()
    assert by_hand.location == "DC1 row 7" and by_hand.serial_number == "7XK4Q93"
    assert by_hand.attributes["rack_unit"] == "U12" and by_hand.attributes["cpu_count"] == 64


def test_facts_a_class_does_not_define_are_left_out():
    by_hand = CIFactory(name="app-03", fqdn="app-03.shop.example.com", ci_class=ci_class("application"))
    report = services.import_host_facts(fixture("facter4_ubuntu_vmware.json"))
    assert report.committed, report.error_list()
    by_hand.refresh_from_db()
    assert by_hand.ci_class.slug == "application" and by_hand.attributes == {}
    assert by_hand.serial_number.startswith("VMware-42")


# --- several hosts, failures, dry runs, options ------------------------------------------------------


def test_adhoc_output_with_several_hosts_imports_each():
    text = fixture("ansible_setup_ubuntu_vm.txt") + "db-02.dc1.example.com | SUCCESS => "
    text += fixture("ansible_facts_dell_r650.json")
    report = services.import_host_facts(text, environment="staging")

    assert report.committed and report.created == 2, report.error_list()
    assert sorted(CI.objects.values_list("name", "environment")) == [("db-02", "staging"), ("web-01", "staging")]


def test_an_unreachable_host_is_an_error_and_nothing_is_written():
    text = fixture("ansible_setup_ubuntu_vm.txt")
    text += 'db-09 | UNREACHABLE! => {\n    "changed": false,\n    "msg": "Failed to connect to the host via ssh",\n'
    text += '    "unreachable": true\n}\n'
    report = services.import_host_facts(text)

    assert not report.ok
    assert [row.action for row in report.rows] == ["create", "error"]
    assert report.rows[1].errors == {
        "facts": ["Ansible reported UNREACHABLE for this host: Failed to connect to the host via ssh"]
    }
    assert not CI.objects.exists()


def test_the_same_host_twice_in_one_payload_is_an_error_on_the_second():
    facts = facts_of("ansible_facts_dell_r650.json")
    report = services.import_host_facts([facts, facts])
    assert report.rows[1].errors == {"facts": ["The same host as row 1 (serial 7XK4Q93)."]}
    assert not CI.objects.exists()


def test_a_dry_run_reports_and_writes_nothing():
    changes = ObjectChange.objects.count()
    report = services.import_host_facts(fixture("facter4_ubuntu_vmware.json"), dry_run=True)
    assert report.ok and not report.committed and report.created == 1
    assert report.rows[0].ci.pk is None
    assert not CI.objects.exists() and ObjectChange.objects.count() == changes


@pytest.mark.parametrize(
    "payload",
    [
        lambda: facts_of("ansible_facts_dell_r650.json")["ansible_facts"],  # a fact cache file
        lambda: {
            k.removeprefix("ansible_"): v for k, v in facts_of("ansible_facts_dell_r650.json")["ansible_facts"].items()
        },
        lambda: {"db-02": facts_of("ansible_facts_dell_r650.json")},  # host → result
        lambda: {"plays": [{"tasks": [{"hosts": {"db-02": facts_of("ansible_facts_dell_r650.json")}}]}]},
        lambda: json.dumps(facts_of("ansible_facts_dell_r650.json")).encode(),
    ],
    ids=["fact-cache", "ansible_facts-variable", "by-host", "json-callback", "bytes"],
)
def test_every_shape_of_ansible_facts_is_read(payload):
    report = services.import_host_facts(payload())
    assert report.committed, report.error_list()
    assert CI.objects.get().serial_number == "7XK4Q93"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("hello world", "Not JSON, nor the output of `ansible -m setup`"),
        ('{"foo": "bar"}', "No host facts found"),
        ("web | SUCCESS => {not json", "The result for host “web” is not valid JSON"),
    ],
)
def test_unreadable_facts_are_refused(payload, message):
    with pytest.raises(ValidationError) as caught:
        parse_hosts(payload)
    assert message in caught.value.message_dict["facts"][0]


def test_owner_team_and_environment_apply_to_the_cis_created(network_team):
    report = services.import_host_facts(
        fixture("ansible_facts_windows_2022.json"), environment="disaster_recovery", owner_team="network"
    )
    assert report.committed
    ci = CI.objects.get()
    assert (ci.environment, ci.owner_team) == ("disaster_recovery", network_team)
    with pytest.raises(ValidationError) as caught:
        services.import_host_facts(fixture("ansible_facts_windows_2022.json"), environment="moon")
    assert "environment" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        services.import_host_facts(fixture("ansible_facts_windows_2022.json"), owner_team="Nobody")
    assert caught.value.message_dict == {"owner_team": ["No team is named “Nobody”."]}


# --- the endpoint ----------------------------------------------------------------------------------


def test_the_endpoint_takes_adhoc_output_as_text_with_options_in_the_query(alice_api, network_team):
    response = alice_api.post(
        f"{FACTS}?environment=staging&owner_team=Network",
        fixture("ansible_setup_ubuntu_vm.txt"),
        content_type="text/plain",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["key"] == "facts" and body["summary"]["created"] == 1
    assert body["rows"][0]["ci_class"] == "virtual-machine"
    ci = CI.objects.get(pk=body["rows"][0]["id"])
    assert (ci.environment, ci.owner_team) == ("staging", network_team)


def test_the_endpoint_takes_json_and_uploads_and_answers_400_on_bad_facts(alice_api):
    response = alice_api.post(f"{FACTS}?dry_run=true", facts_of("facter4_ubuntu_vmware.json"), format="json")
    assert response.status_code == 200 and response.json()["summary"]["created"] == 1
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("web-01.txt", fixture("ansible_setup_ubuntu_vm.txt").encode(), "text/plain")
    response = alice_api.post(FACTS, {"file": upload, "environment": "test"}, format="multipart")
    assert response.status_code == 201 and CI.objects.get().environment == "test"

    response = alice_api.post(FACTS, "nothing useful", content_type="text/plain")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "facts"
    response = alice_api.post(
        f"{FACTS}?environment=moon", fixture("ansible_setup_ubuntu_vm.txt"), content_type="text/plain"
    )
    assert response.status_code == 400 and "environment" in response.json()


def test_viewers_and_read_only_tokens_cannot_import_facts(victor_api, alice, make_api_client):
    text = fixture("ansible_setup_ubuntu_vm.txt")
    assert victor_api.post(FACTS, text, content_type="text/plain").status_code == 403
    assert make_api_client(alice, write=False).post(FACTS, text, content_type="text/plain").status_code == 403
    assert not CI.objects.exists()
