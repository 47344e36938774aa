"""The Ansible dynamic inventory (cmdb.inventory, GET /api/v1/cmdb/inventory/ansible/) and the
contrib/itom-ansible-inventory script, run for real by `ansible-inventory` against a live portal."""

import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.urls import reverse

from accounts.services import create_api_token
from cmdb.inventory import ansible_inventory, group_name
from cmdb.models import CI
from itom.roles import VIEWER
from tests.factories import CIFactory, TeamFactory, UserFactory, ci_class

INVENTORY = "/api/v1/cmdb/inventory/ansible/"
SCRIPT = Path(__file__).resolve().parents[2] / "contrib" / "itom-ansible-inventory"
ANSIBLE_INVENTORY = Path(sys.executable).parent / "ansible-inventory"
SAFE = re.compile(r"^[a-z0-9_]+$")


def build_estate():
    """web-01 (Linux server, fqdn, tags), vm-07 (VM, IP only), core-sw-1 (switch), two CIs with the
    same FQDN in two environments, plus CIs an inventory leaves out (retired; no address)."""
    ops = TeamFactory(name="Network Operations")
    dba = TeamFactory(name="DBA's")
    cis = {
        "web": CIFactory(
            name="web-01",
            ci_class=ci_class("linux-server"),
            fqdn="web-01.shop.example.com",
            ip_addresses=["10.20.1.11"],
            owner_team=ops,
            location="DC1",
            attributes={"cpu_count": 8},
            tags=["web", "PCI-DSS"],
        ),
        "vm": CIFactory(
            name="vm-07", ci_class=ci_class("virtual-machine"), ip_addresses=["10.9.0.7", "2001:db8::7"], owner_team=dba
        ),
        "switch": CIFactory(
            name="core-sw-1", ci_class=ci_class("switch"), fqdn="core-sw-1.net.example.com", criticality=1
        ),
        "prod_db": CIFactory(name="db-prod", ci_class=ci_class("database"), fqdn="db.example.com"),
        "stage_db": CIFactory(
            name="db-stage", ci_class=ci_class("database"), fqdn="db.example.com", environment="staging"
        ),
        "retired": CIFactory(
            name="old-01", ci_class=ci_class("linux-server"), fqdn="old-01.example.com", status="retired"
        ),
        "no_address": CIFactory(name="billing", ci_class=ci_class("application")),
    }
    return cis


@pytest.mark.django_db
def test_the_inventory_lists_hosts_with_their_vars_and_groups():
    cis = build_estate()
    inventory = ansible_inventory(CI.objects.all())

    hostvars = inventory["_meta"]["hostvars"]
    assert set(hostvars) == {
        "web-01.shop.example.com",
        "vm-07",
        "core-sw-1.net.example.com",
        f"db.example.com_{cis['prod_db'].pk}",
        f"db.example.com_{cis['stage_db'].pk}",
    }
    web = hostvars["web-01.shop.example.com"]
    assert web == {
        "ansible_host": "web-01.shop.example.com",
        "itom_id": cis["web"].pk,
        "itom_name": "web-01",
        "itom_class": "linux-server",
        "itom_environment": "production",
        "itom_status": "active",
        "itom_criticality": 3,
        "itom_owner_team": "Network Operations",
        "itom_tags": ["PCI-DSS", "web"],
        "itom_location": "DC1",
        "itom_fqdn": "web-01.shop.example.com",
        "itom_ip_addresses": ["10.20.1.11"],
        "itom_attributes": {"cpu_count": 8},
    }
    assert hostvars["vm-07"]["ansible_host"] == "10.9.0.7"  # no FQDN: the first IP

    # Groups by class (nested like the classes), environment, owner team and tag.
    assert inventory["class_linux_server"] == {"hosts": ["web-01.shop.example.com"]}
    assert inventory["class_server"] == {"children": ["class_linux_server"]}
    assert inventory["class_hardware"] == {"children": ["class_network_device", "class_server"]}
    assert inventory["class_network_device"] == {"children": ["class_switch"]}
    assert inventory["class_virtual_machine"] == {"hosts": ["vm-07"]}
    assert set(inventory["env_production"]["hosts"]) == set(hostvars) - {f"db.example.com_{cis['stage_db'].pk}"}
    assert inventory["env_staging"] == {"hosts": [f"db.example.com_{cis['stage_db'].pk}"]}
    assert inventory["team_network_operations"] == {"hosts": ["web-01.shop.example.com"]}
    assert inventory["team_dba_s"] == {"hosts": ["vm-07"]}
    assert inventory["tag_web"] == inventory["tag_pci_dss"] == {"hosts": ["web-01.shop.example.com"]}
    assert inventory["all"]["children"] == sorted(
        [
            "class_database",
            "class_hardware",
            "class_virtual_machine",
            "env_production",
            "env_staging",
            "team_dba_s",
            "team_network_operations",
            "tag_pci_dss",
            "tag_web",
            "ungrouped",
        ]
    )
    groups = [name for name in inventory if name != "_meta"]
    assert all(SAFE.match(name) for name in groups)
    # Every child group and every grouped host exists.
    for name in groups:
        assert set(inventory[name].get("children", [])) <= set(groups)
        assert set(inventory[name].get("hosts", [])) <= set(hostvars)


@pytest.mark.django_db
def test_group_names_are_made_safe_and_kept_apart():
    assert group_name("team", "Network Operations") == "team_network_operations"
    assert group_name("tag", "web.front-end:v2") == "tag_web_front_end_v2"
    assert group_name("team", "***") == "team_unnamed"
    TeamFactory(name="Net Ops")
    CIFactory(name="a", fqdn="a.example.com", owner_team=TeamFactory(name="Net Ops"))
    CIFactory(name="b", fqdn="b.example.com", owner_team=TeamFactory(name="net-ops"))
    inventory = ansible_inventory(CI.objects.all())
    assert inventory["team_net_ops"] == {"hosts": ["a.example.com"]}
    assert inventory["team_net_ops_2"] == {"hosts": ["b.example.com"]}


@pytest.mark.django_db
def test_host_names_never_collide():
    first = CIFactory(name="edge", ci_class=ci_class("router"), ip_addresses=["10.0.0.1"])
    second = CIFactory(name="edge", ci_class=ci_class("firewall"), ip_addresses=["10.0.0.2"])
    third = CIFactory(name=f"edge_{first.pk}", ci_class=ci_class("switch"), ip_addresses=["10.0.0.3"])
    hosts = ansible_inventory(CI.objects.all())["_meta"]["hostvars"]
    assert len(hosts) == 3
    assert hosts[f"edge_{first.pk}"]["itom_id"] == third.pk  # a real name is never taken from a CI
    assert hosts[f"edge_{first.pk}_"]["itom_id"] == first.pk
    assert hosts[f"edge_{second.pk}"]["itom_id"] == second.pk


@pytest.mark.django_db
def test_the_inventory_answers_in_the_same_number_of_queries_whatever_its_size(django_assert_num_queries):
    def build(count):
        for n in range(count):
            CIFactory(ci_class=ci_class("linux-server"), fqdn=f"h{n}-{count}.example.com", tags=["web", f"t{n % 3}"])

    build(3)
    with django_assert_num_queries(3):
        small = ansible_inventory(CI.objects.all())
    build(40)
    with django_assert_num_queries(3):
        large = ansible_inventory(CI.objects.all())
    assert len(small["_meta"]["hostvars"]) == 3 and len(large["_meta"]["hostvars"]) == 43


@pytest.mark.django_db
def test_the_endpoint_applies_the_ci_filters(alice_api, victor_api, anon):
    build_estate()
    response = victor_api.get(INVENTORY, {"environment": "staging"})
    assert response.status_code == 200
    assert list(response.json()["_meta"]["hostvars"]) == [next(iter(response.json()["env_staging"]["hosts"]))]
    by_class = alice_api.get(INVENTORY, {"ci_class": ci_class("server").pk, "tag": "web"}).json()
    assert list(by_class["_meta"]["hostvars"]) == ["web-01.shop.example.com"]
    assert victor_api.get(INVENTORY, {"status": "sleeping"}).status_code == 400
    assert anon.get(INVENTORY).status_code in (401, 403)
    assert reverse("api:cmdb-inventory-ansible") == INVENTORY


@pytest.mark.django_db
def test_read_only_tokens_may_read_the_inventory(alice, make_api_client):
    CIFactory(fqdn="a.example.com")
    response = make_api_client(alice, write=False).get(INVENTORY)
    assert response.status_code == 200 and "a.example.com" in response.json()["_meta"]["hostvars"]


# --- the script, and real ansible-inventory --------------------------------------------------------


def run_script(args, env, timeout=60):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_the_script_is_executable_and_answers_host_with_an_empty_object():
    assert os.access(SCRIPT, os.X_OK)
    assert SCRIPT.read_text().startswith("#!/usr/bin/env python3\n")
    result = run_script(["--host", "web-01"], {"PATH": os.environ["PATH"]})
    assert result.returncode == 0 and json.loads(result.stdout) == {}


def test_the_script_says_what_is_missing_on_stderr():
    result = run_script(["--list"], {"PATH": os.environ["PATH"], "ITOM_URL": "https://itom.example.com"})
    assert result.returncode == 1 and result.stdout == ""
    assert "ITOM_TOKEN" in result.stderr
    result = run_script(["--list"], {"PATH": os.environ["PATH"], "ITOM_URL": "itom.example.com", "ITOM_TOKEN": "x"})
    assert result.returncode == 1 and "must start with http:// or https://" in result.stderr


@pytest.fixture
def catalogue(transactional_db):
    """The seeded class catalogue, seeded again when an earlier transactional test flushed it (the
    data migration's own function: it leaves existing classes alone). Not ``serialized_rollback``:
    its flush skips post_migrate, leaving later transactional tests without content types."""
    importlib.import_module("cmdb.migrations.0002_catalogue").seed(django_apps, None)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_real_ansible_inventory_lists_the_portal_hosts(live_server, catalogue, tmp_path):
    if not ANSIBLE_INVENTORY.exists():
        pytest.skip(f"ansible-core is not installed ({ANSIBLE_INVENTORY} missing; see requirements-dev.txt)")
    cis = build_estate()
    reader = UserFactory(username="ansible", roles=[VIEWER])
    _, key = create_api_token(reader, "ansible inventory", write_enabled=False)
    token_file = tmp_path / "token"
    token_file.write_text(key + "\n")
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "LC_ALL": "C.UTF-8",
        "ANSIBLE_HOME": str(tmp_path / ".ansible"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
        "ANSIBLE_INVENTORY_ENABLED": "script",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1",
        "ITOM_URL": live_server.url,
        "ITOM_TOKEN_FILE": str(token_file),
        "ITOM_INVENTORY_FILTER": "environment=production",
    }

    result = subprocess.run(
        [str(ANSIBLE_INVENTORY), "-i", str(SCRIPT), "--list"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr  # e.g. a group Ansible finds malformed
    listed = json.loads(result.stdout)
    hostvars = listed["_meta"]["hostvars"]
    # Only production: db.example.com no longer collides with its staging namesake.
    assert set(hostvars) == {"web-01.shop.example.com", "vm-07", "core-sw-1.net.example.com", "db.example.com"}
    assert hostvars["db.example.com"]["itom_id"] == cis["prod_db"].pk
    assert hostvars["vm-07"]["ansible_host"] == "10.9.0.7"
    assert hostvars["web-01.shop.example.com"]["itom_attributes"] == {"cpu_count": 8}
    assert listed["class_linux_server"]["hosts"] == ["web-01.shop.example.com"]
    assert "class_linux_server" in listed["class_server"]["children"]
    assert "class_server" in listed["class_hardware"]["children"]
    assert listed["tag_web"]["hosts"] == ["web-01.shop.example.com"]
    assert set(listed["env_production"]["hosts"]) == set(hostvars)
    assert "env_staging" not in listed

    # A pattern Ansible resolves through the groups: every server, through the class tree.
    graph = subprocess.run(
        [str(ANSIBLE_INVENTORY), "-i", str(SCRIPT), "--graph", "class_hardware"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert graph.returncode == 0, graph.stderr
    assert "web-01.shop.example.com" in graph.stdout and "core-sw-1.net.example.com" in graph.stdout

    # A bad token: the script fails with the portal's answer, and so does ansible-inventory.
    result = run_script(["--list"], {**env, "ITOM_TOKEN_FILE": "", "ITOM_TOKEN": "itom_bad_token"})
    assert (
        result.returncode == 1 and "HTTP 401" in result.stderr and "Invalid, expired or revoked token" in result.stderr
    )
    failed = subprocess.run(
        [str(ANSIBLE_INVENTORY), "-i", str(SCRIPT), "--list"],
        env={**env, "ITOM_TOKEN_FILE": "", "ITOM_TOKEN": "itom_bad_token"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert failed.returncode != 0
