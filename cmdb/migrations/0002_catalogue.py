"""Seed the CI class catalogue (with attribute schemas) and the relationship types.

Runs once; operators change the catalogue afterwards in the portal. Existing rows (matched by
slug) are left as they are, so re-running never overwrites an operator's edits."""

from django.db import migrations

S, INT, N, B, D, C, IP = "string", "integer", "number", "boolean", "date", "choice", "ip"

COMPUTE = [
    ("cpu_count", "CPUs", INT, False, []),
    ("memory_mb", "Memory (MB)", INT, False, []),
    ("architecture", "Architecture", S, False, []),
    ("kernel", "Kernel", S, False, []),
]

# slug, name, parent slug, business service, description, attributes (name, label, type, required, choices)
CLASSES = [
    (
        "business-service",
        "Business service",
        None,
        True,
        "A service the business consumes (online shop, payroll); what impact analysis reports on.",
        [
            ("service_tier", "Service tier", C, False, ["gold", "silver", "bronze"]),
            ("business_owner", "Business owner", S, False, []),
            ("service_hours", "Service hours", S, False, []),
        ],
    ),
    (
        "application",
        "Application",
        None,
        False,
        "Software that delivers (part of) a service.",
        [("version", "Version", S, False, []), ("url", "URL", S, False, []), ("port", "Port", INT, False, [])],
    ),
    (
        "database",
        "Database",
        None,
        False,
        "A database instance or cluster.",
        [
            (
                "engine",
                "Engine",
                C,
                False,
                ["postgresql", "mysql", "mariadb", "oracle", "mssql", "mongodb", "redis", "other"],
            ),
            ("version", "Version", S, False, []),
            ("port", "Port", INT, False, []),
            ("size_gb", "Size (GB)", N, False, []),
        ],
    ),
    ("hardware", "Hardware", None, False, "Physical equipment.", [("rack_unit", "Rack unit", S, False, [])]),
    ("server", "Server", "hardware", False, "A physical server.", COMPUTE),
    ("linux-server", "Linux server", "server", False, "A physical server running Linux.", []),
    ("windows-server", "Windows server", "server", False, "A physical server running Windows.", []),
    (
        "virtual-machine",
        "Virtual machine",
        None,
        False,
        "A virtual machine on a hypervisor or cloud.",
        COMPUTE + [("hypervisor", "Hypervisor", S, False, [])],
    ),
    (
        "container-cluster",
        "Container cluster",
        None,
        False,
        "Kubernetes, OpenShift, Nomad or similar.",
        [
            ("platform", "Platform", C, False, ["kubernetes", "openshift", "nomad", "swarm", "ecs", "other"]),
            ("version", "Version", S, False, []),
            ("node_count", "Nodes", INT, False, []),
            ("api_endpoint", "API endpoint", S, False, []),
        ],
    ),
    (
        "network-device",
        "Network device",
        "hardware",
        False,
        "Equipment that carries network traffic.",
        [
            ("firmware_version", "Firmware version", S, False, []),
            ("management_ip", "Management IP", IP, False, []),
            ("port_count", "Ports", INT, False, []),
        ],
    ),
    (
        "switch",
        "Switch",
        "network-device",
        False,
        "A network switch.",
        [("stack_member", "Stack member", B, False, [])],
    ),
    ("router", "Router", "network-device", False, "A router.", [("asn", "AS number", INT, False, [])]),
    ("firewall", "Firewall", "network-device", False, "A firewall.", [("ha_pair", "HA pair", B, False, [])]),
    (
        "load-balancer",
        "Load balancer",
        "network-device",
        False,
        "A load balancer or reverse proxy appliance.",
        [("virtual_ip", "Virtual IP", IP, False, [])],
    ),
    (
        "storage-array",
        "Storage array",
        "hardware",
        False,
        "SAN or NAS storage.",
        [
            ("capacity_tb", "Capacity (TB)", N, False, []),
            ("protocol", "Protocol", C, False, ["fc", "iscsi", "nfs", "smb", "s3"]),
        ],
    ),
    (
        "cloud-service",
        "Cloud service",
        None,
        False,
        "A managed service from a cloud provider.",
        [
            ("provider", "Provider", C, False, ["aws", "azure", "gcp", "oci", "other"]),
            ("region", "Region", S, False, []),
            ("account_id", "Account / subscription", S, False, []),
            ("service_name", "Provider's service name", S, False, []),
        ],
    ),
    (
        "network-segment",
        "Network segment",
        None,
        False,
        "A subnet or VLAN.",
        [("cidr", "CIDR", S, False, []), ("vlan_id", "VLAN id", INT, False, []), ("gateway", "Gateway", IP, False, [])],
    ),
]

# slug, forward label, reverse label, propagates failure, description
RELATIONSHIP_TYPES = [
    ("depends-on", "depends on", "used by", True, "The source needs the target to work."),
    ("runs-on", "runs on", "hosts", True, "Software on the platform or machine that runs it."),
    (
        "connected-to",
        "connected to",
        "connects",
        True,
        "Network attachment: the source loses the network if the target fails.",
    ),
    (
        "contains",
        "contains",
        "member of",
        False,
        "Grouping (a cluster contains nodes); a member's failure doesn't fail the group.",
    ),
    ("backed-up-by", "backed up by", "backs up", False, "The target holds the source's backups."),
]


def seed(apps, schema_editor):
    CIClass = apps.get_model("cmdb", "CIClass")
    AttributeDefinition = apps.get_model("cmdb", "AttributeDefinition")
    RelationshipType = apps.get_model("cmdb", "RelationshipType")
    by_slug = {}
    for slug, name, parent, business, description, attributes in CLASSES:
        ci_class, created = CIClass.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "parent": by_slug.get(parent),
                "is_business_service": business,
                "description": description,
            },
        )
        by_slug[slug] = ci_class
        if created:
            for order, (attr, label, kind, required, choices) in enumerate(attributes):
                AttributeDefinition.objects.create(
                    ci_class=ci_class,
                    name=attr,
                    label=label,
                    type=kind,
                    required=required,
                    choices=choices,
                    order=order * 10,
                )
    for slug, forward, reverse, propagates, description in RELATIONSHIP_TYPES:
        RelationshipType.objects.get_or_create(
            slug=slug,
            defaults={
                "forward_label": forward,
                "reverse_label": reverse,
                "propagates_failure": propagates,
                "description": description,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("cmdb", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
