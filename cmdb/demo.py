"""A small, realistic demo estate for ``manage.py seed_demo``: two business services (Online shop,
Payroll), their applications, databases, servers, VMs, a container cluster, network gear, a
storage array, a network segment and a cloud service, owned by the demo teams of
``accounts.demo`` and related with the seeded relationship types.

Every CI and relationship goes through ``cmdb.services`` (validated against the class schemas,
audited). Idempotent: a CI is looked up by class and name, a relationship by its three ends;
what exists already is left as it is (an operator may have edited it), only what is missing is
created. The network is wired so that the core switch failing reaches both business services::

    edge-rtr-01 ← fw-01 ← core-sw-01 ← access-sw-01 ← hv-01 ← shop-web-01, k8s-node-01 …
                                      ← access-sw-02 ← win-01 ← payroll-app ← Payroll
                                      ← lb-01 ← shop-web ← Online shop
"""

import datetime

from accounts.models import Team
from cmdb.models import CI, CIClass, Relationship, RelationshipType
from cmdb.services import relate, save_ci

NETOPS, PLATFORM, DBA, DESK = "Network Operations", "Platform Engineering", "Database Administration", "Service Desk"
DC1 = "DC1 Frankfurt, hall 2"


def _d(text):
    return datetime.date.fromisoformat(text)


def _hardware(serial, manufacturer, model, installed, warranty, rack):
    return {
        "serial_number": serial,
        "manufacturer": manufacturer,
        "model": model,
        "install_date": _d(installed),
        "warranty_end": _d(warranty),
        "location": f"{DC1}, {rack}",
    }


# name, class slug, owner team, fields (CI fields plus "attributes" and "tags")
CIS = [
    # --- Business services ---------------------------------------------------------------------
    (
        "Online shop",
        "business-service",
        DESK,
        {
            "criticality": 1,
            "description": "The public web shop: catalogue, basket and checkout.",
            "attributes": {"service_tier": "gold", "business_owner": "Head of E-commerce", "service_hours": "24x7"},
            "tags": ["web", "pci"],
        },
    ),
    (
        "Payroll",
        "business-service",
        DESK,
        {
            "criticality": 2,
            "description": "Monthly salary runs and payslips for all staff.",
            "attributes": {
                "service_tier": "silver",
                "business_owner": "HR Director",
                "service_hours": "Mon-Fri 07:00-19:00",
            },
        },
    ),
    # --- Applications --------------------------------------------------------------------------
    (
        "shop-web",
        "application",
        PLATFORM,
        {
            "criticality": 1,
            "description": "The shop's web frontend (server-rendered pages and static assets).",
            "attributes": {"version": "3.14.2", "url": "https://shop.example.com", "port": 443},
            "tags": ["web"],
        },
    ),
    (
        "checkout-api",
        "application",
        PLATFORM,
        {
            "criticality": 1,
            "description": "Basket, payment and order API behind the shop frontend.",
            "attributes": {"version": "2.7.0", "url": "https://api.shop.example.com/checkout", "port": 8443},
            "tags": ["pci"],
        },
    ),
    (
        "payroll-app",
        "application",
        PLATFORM,
        {
            "criticality": 2,
            "description": "The payroll package (vendor software) and its web client.",
            "attributes": {"version": "2024.2", "url": "https://payroll.example.com", "port": 443},
        },
    ),
    # --- Databases -----------------------------------------------------------------------------
    (
        "pg-shop",
        "database",
        DBA,
        {
            "criticality": 1,
            "fqdn": "pg-shop.db.example.com",
            "ip_addresses": ["10.10.0.50"],
            "description": "PostgreSQL cluster (primary + streaming replica) for orders and customers.",
            "attributes": {"engine": "postgresql", "version": "15.6", "port": 5432, "size_gb": 250.0},
            "tags": ["pci", "backup"],
        },
    ),
    (
        "payroll-db",
        "database",
        DBA,
        {
            "criticality": 2,
            "fqdn": "payroll-db.db.example.com",
            "ip_addresses": ["10.10.0.60"],
            "description": "Oracle database of the payroll package.",
            "attributes": {"engine": "oracle", "version": "19c", "port": 1521, "size_gb": 80.5},
            "tags": ["backup"],
        },
    ),
    # --- Physical servers ----------------------------------------------------------------------
    *[
        (
            f"hv-0{n}",
            "linux-server",
            PLATFORM,
            {
                "criticality": 1,
                "fqdn": f"hv-0{n}.dc1.example.com",
                "ip_addresses": [f"10.10.0.1{n}", f"2001:db8:10::1{n}"],
                "operating_system": "Red Hat Enterprise Linux 9.4",
                **_hardware(f"CZ2D1{n}0HV", "Dell", "PowerEdge R750", "2023-03-14", "2028-03-13", f"rack A0{n + 1}"),
                "description": "KVM hypervisor.",
                "attributes": {
                    "cpu_count": 64,
                    "memory_mb": 524288,
                    "architecture": "x86_64",
                    "kernel": "5.14.0-427.el9.x86_64",
                    "rack_unit": f"U{10 + n}",
                },
            },
        )
        for n in (1, 2)
    ],
    *[
        (
            f"pg-0{n}",
            "linux-server",
            DBA,
            {
                "criticality": 1,
                "fqdn": f"pg-0{n}.dc1.example.com",
                "ip_addresses": [f"10.10.0.5{n}"],
                "operating_system": "Debian 12",
                **_hardware(f"CZ2D2{n}0PG", "Dell", "PowerEdge R650", "2023-06-01", "2028-05-31", f"rack A0{n + 1}"),
                "description": "PostgreSQL node" + (" (primary)." if n == 1 else " (replica)."),
                "attributes": {
                    "cpu_count": 32,
                    "memory_mb": 262144,
                    "architecture": "x86_64",
                    "kernel": "6.1.0-18-amd64",
                    "rack_unit": f"U{20 + n}",
                },
            },
        )
        for n in (1, 2)
    ],
    (
        "ora-01",
        "linux-server",
        DBA,
        {
            "criticality": 2,
            "fqdn": "ora-01.dc1.example.com",
            "ip_addresses": ["10.10.0.61"],
            "operating_system": "Oracle Linux 8.9",
            **_hardware("MXQ1240ORA", "HPE", "ProLiant DL360 Gen10", "2021-09-20", "2026-09-19", "rack A03"),
            "attributes": {
                "cpu_count": 16,
                "memory_mb": 131072,
                "architecture": "x86_64",
                "kernel": "5.15.0-200.131.27.el8uek.x86_64",
                "rack_unit": "U30",
            },
        },
    ),
    (
        "win-01",
        "windows-server",
        PLATFORM,
        {
            "criticality": 2,
            "fqdn": "win-01.corp.example.com",
            "ip_addresses": ["10.10.0.70"],
            "operating_system": "Windows Server 2022 Datacenter",
            **_hardware("MXQ1250WIN", "HPE", "ProLiant DL380 Gen10", "2022-01-10", "2027-01-09", "rack A03"),
            "description": "Application server of the payroll package.",
            "attributes": {"cpu_count": 16, "memory_mb": 65536, "architecture": "x64", "rack_unit": "U32"},
        },
    ),
    (
        "win-legacy-01",
        "windows-server",
        PLATFORM,
        {
            "status": "retired",
            "criticality": 4,
            "fqdn": "win-legacy-01.corp.example.com",
            "operating_system": "Windows Server 2012 R2 Standard",
            **_hardware("MXQ5120OLD", "HPE", "ProLiant DL380 Gen9", "2015-05-04", "2020-05-03", "storeroom"),
            "end_of_life": _d("2023-10-10"),
            "description": "The payroll server before win-01; switched off, awaiting disposal.",
            "attributes": {"cpu_count": 8, "memory_mb": 32768, "architecture": "x64"},
        },
    ),
    # --- Virtual machines and the container cluster -------------------------------------------
    *[
        (
            f"shop-web-0{n}",
            "virtual-machine",
            PLATFORM,
            {
                "criticality": 2,
                "fqdn": f"shop-web-0{n}.dc1.example.com",
                "ip_addresses": [f"10.10.0.10{n}"],
                "operating_system": "Ubuntu 22.04 LTS",
                "attributes": {"cpu_count": 4, "memory_mb": 8192, "architecture": "x86_64", "hypervisor": f"hv-0{n}"},
                "tags": ["web"],
            },
        )
        for n in (1, 2)
    ],
    (
        "shop-web-stg-01",
        "virtual-machine",
        PLATFORM,
        {
            "environment": "staging",
            "criticality": 4,
            "fqdn": "shop-web-stg-01.dc1.example.com",
            "ip_addresses": ["10.20.0.101"],
            "operating_system": "Ubuntu 22.04 LTS",
            "attributes": {"cpu_count": 2, "memory_mb": 4096, "architecture": "x86_64", "hypervisor": "hv-02"},
            "tags": ["web"],
        },
    ),
    *[
        (
            f"k8s-node-0{n}",
            "virtual-machine",
            PLATFORM,
            {
                "criticality": 2,
                "fqdn": f"k8s-node-0{n}.dc1.example.com",
                "ip_addresses": [f"10.10.0.11{n}"],
                "operating_system": "Ubuntu 22.04 LTS",
                "attributes": {
                    "cpu_count": 8,
                    "memory_mb": 32768,
                    "architecture": "x86_64",
                    "hypervisor": "hv-01" if n != 2 else "hv-02",
                },
            },
        )
        for n in (1, 2, 3)
    ],
    (
        "k8s-prod",
        "container-cluster",
        PLATFORM,
        {
            "criticality": 1,
            "fqdn": "k8s-prod.dc1.example.com",
            "description": "Production Kubernetes cluster (three nodes).",
            "attributes": {
                "platform": "kubernetes",
                "version": "1.29.4",
                "node_count": 3,
                "api_endpoint": "https://k8s-prod.dc1.example.com:6443",
            },
            "tags": ["pci"],
        },
    ),
    # --- Network -------------------------------------------------------------------------------
    (
        "core-sw-01",
        "switch",
        NETOPS,
        {
            "criticality": 1,
            "fqdn": "core-sw-01.net.example.com",
            "ip_addresses": ["10.0.0.1"],
            "operating_system": "Cisco IOS XE 17.9.4",
            **_hardware("FCW2233L0CA", "Cisco", "Catalyst 9500-48Y4C", "2022-02-01", "2027-01-31", "rack N01"),
            "description": "Data-centre core switch: every server VLAN is routed here.",
            "attributes": {
                "firmware_version": "17.9.4",
                "management_ip": "10.0.0.1",
                "port_count": 48,
                "stack_member": False,
                "rack_unit": "U40",
            },
        },
    ),
    *[
        (
            f"access-sw-0{n}",
            "switch",
            NETOPS,
            {
                "criticality": 2,
                "fqdn": f"access-sw-0{n}.net.example.com",
                "ip_addresses": [f"10.0.0.1{n}"],
                "operating_system": "Cisco IOS XE 17.9.4",
                **_hardware(
                    f"FOC2418X0A{n}", "Cisco", "Catalyst 9300-48P", "2022-02-01", "2027-01-31", f"rack A0{n + 1}"
                ),
                "description": "Top-of-rack access switch.",
                "attributes": {
                    "firmware_version": "17.9.4",
                    "management_ip": f"10.0.0.1{n}",
                    "port_count": 48,
                    "stack_member": True,
                    "rack_unit": "U42",
                },
            },
        )
        for n in (1, 2)
    ],
    (
        "edge-rtr-01",
        "router",
        NETOPS,
        {
            "criticality": 1,
            "fqdn": "edge-rtr-01.net.example.com",
            "ip_addresses": ["203.0.113.1", "2001:db8::1"],
            "operating_system": "Junos OS 23.2R1",
            **_hardware("JN12AB3C4EDG", "Juniper", "MX204", "2021-11-15", "2026-11-14", "rack N01"),
            "description": "Internet edge router (two upstream providers).",
            "attributes": {"firmware_version": "23.2R1", "management_ip": "10.0.0.2", "port_count": 8, "asn": 64512},
        },
    ),
    (
        "fw-01",
        "firewall",
        NETOPS,
        {
            "criticality": 1,
            "fqdn": "fw-01.net.example.com",
            "ip_addresses": ["10.0.0.3"],
            "operating_system": "PAN-OS 11.1.2",
            **_hardware("013201001234", "Palo Alto Networks", "PA-3220", "2022-04-04", "2027-04-03", "rack N01"),
            "description": "Perimeter firewall (active member of an HA pair).",
            "attributes": {
                "firmware_version": "11.1.2",
                "management_ip": "10.0.0.3",
                "port_count": 16,
                "ha_pair": True,
            },
            "tags": ["pci"],
        },
    ),
    (
        "lb-01",
        "load-balancer",
        NETOPS,
        {
            "criticality": 1,
            "fqdn": "lb-01.net.example.com",
            "ip_addresses": ["10.0.0.4", "203.0.113.10"],
            "operating_system": "BIG-IP 17.1.1",
            **_hardware("f5-abcd-1234", "F5", "BIG-IP i5800", "2022-04-04", "2027-04-03", "rack N01"),
            "description": "Load balancer in front of the shop's web servers.",
            "attributes": {
                "firmware_version": "17.1.1",
                "management_ip": "10.0.0.4",
                "port_count": 8,
                "virtual_ip": "203.0.113.10",
            },
            "tags": ["web"],
        },
    ),
    (
        "dc1-server-vlan",
        "network-segment",
        NETOPS,
        {
            "criticality": 2,
            "location": DC1,
            "description": "The production server VLAN of DC1.",
            "attributes": {"cidr": "10.10.0.0/24", "vlan_id": 110, "gateway": "10.10.0.1"},
        },
    ),
    # --- Storage and cloud ---------------------------------------------------------------------
    (
        "stor-01",
        "storage-array",
        PLATFORM,
        {
            "criticality": 1,
            "fqdn": "stor-01.dc1.example.com",
            "ip_addresses": ["10.10.0.200"],
            "operating_system": "ONTAP 9.14.1",
            **_hardware("721924000123", "NetApp", "AFF A400", "2023-01-16", "2028-01-15", "rack A04"),
            "description": "All-flash array: VM datastores (NFS) and the database backups.",
            "attributes": {"capacity_tb": 120.0, "protocol": "nfs", "rack_unit": "U1-U4"},
            "tags": ["backup"],
        },
    ),
    (
        "shop-cdn",
        "cloud-service",
        PLATFORM,
        {
            "criticality": 2,
            "description": "CDN in front of the shop's images and static files.",
            "attributes": {
                "provider": "aws",
                "region": "global",
                "account_id": "123456789012",
                "service_name": "CloudFront",
            },
            "tags": ["web"],
        },
    ),
]

# source, relationship type slug, target (read "source <forward label> target")
RELATIONSHIPS = [
    # Business services and applications
    ("Online shop", "depends-on", "shop-web"),
    ("Online shop", "depends-on", "shop-cdn"),
    ("shop-web", "depends-on", "checkout-api"),
    ("shop-web", "depends-on", "lb-01"),
    ("shop-web", "runs-on", "shop-web-01"),
    ("shop-web", "runs-on", "shop-web-02"),
    ("checkout-api", "runs-on", "k8s-prod"),
    ("checkout-api", "depends-on", "pg-shop"),
    ("Payroll", "depends-on", "payroll-app"),
    ("payroll-app", "runs-on", "win-01"),
    ("payroll-app", "depends-on", "payroll-db"),
    # Databases
    ("pg-shop", "runs-on", "pg-01"),
    ("pg-shop", "runs-on", "pg-02"),
    ("pg-shop", "backed-up-by", "stor-01"),
    ("payroll-db", "runs-on", "ora-01"),
    ("payroll-db", "backed-up-by", "stor-01"),
    # Compute
    ("k8s-prod", "runs-on", "k8s-node-01"),
    ("k8s-prod", "runs-on", "k8s-node-02"),
    ("k8s-prod", "runs-on", "k8s-node-03"),
    ("k8s-node-01", "runs-on", "hv-01"),
    ("k8s-node-02", "runs-on", "hv-02"),
    ("k8s-node-03", "runs-on", "hv-01"),
    ("shop-web-01", "runs-on", "hv-01"),
    ("shop-web-02", "runs-on", "hv-02"),
    ("shop-web-stg-01", "runs-on", "hv-02"),
    ("hv-01", "depends-on", "stor-01"),
    ("hv-02", "depends-on", "stor-01"),
    # Network
    ("hv-01", "connected-to", "access-sw-01"),
    ("hv-02", "connected-to", "access-sw-02"),
    ("pg-01", "connected-to", "access-sw-01"),
    ("pg-02", "connected-to", "access-sw-02"),
    ("ora-01", "connected-to", "access-sw-02"),
    ("win-01", "connected-to", "access-sw-02"),
    ("stor-01", "connected-to", "core-sw-01"),
    ("access-sw-01", "connected-to", "core-sw-01"),
    ("access-sw-02", "connected-to", "core-sw-01"),
    ("lb-01", "connected-to", "core-sw-01"),
    ("core-sw-01", "connected-to", "fw-01"),
    ("fw-01", "connected-to", "edge-rtr-01"),
    ("dc1-server-vlan", "depends-on", "core-sw-01"),
    *[("dc1-server-vlan", "contains", name) for name in ("hv-01", "hv-02", "pg-01", "pg-02", "ora-01", "win-01")],
]


def seed(stdout):
    classes = {c.slug: c for c in CIClass.objects.filter(slug__in={slug for _, slug, _, _ in CIS})}
    types = {t.slug: t for t in RelationshipType.objects.filter(slug__in={slug for _, slug, _ in RELATIONSHIPS})}
    teams = {t.name: t for t in Team.objects.filter(name__in={team for _, _, team, _ in CIS})}
    existing = {
        (ci.ci_class_id, ci.name.lower()): ci
        for ci in CI.objects.filter(ci_class__in=classes.values(), name__in=[name for name, *_ in CIS])
    }

    by_name, new_cis = {}, 0
    for name, slug, team, fields in CIS:
        ci_class = classes[slug]
        ci = existing.get((ci_class.pk, name.lower()))
        if ci is None:
            values = dict(fields)
            tags = values.pop("tags", [])
            ci = save_ci(CI(name=name, ci_class=ci_class, owner_team=teams.get(team), **values), tags=tags)
            new_cis += 1
        by_name[name] = ci

    links = set(
        Relationship.objects.filter(source__in=by_name.values(), target__in=by_name.values()).values_list(
            "source_id", "type_id", "target_id"
        )
    )
    new_links = 0
    for source, slug, target in RELATIONSHIPS:
        ends = (by_name[source], types[slug], by_name[target])
        if tuple(end.pk for end in ends) not in links:
            relate(*ends)
            new_links += 1

    stdout.write(f"  cmdb: {len(CIS)} CIs ({new_cis} new), {len(RELATIONSHIPS)} relationships ({new_links} new)")
