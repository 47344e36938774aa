"""The portal's roles (DESIGN.md §3): Django groups whose permissions follow from patterns.

``viewer`` reads everything; ``agent`` works incidents, problems, CIs, checks and change
requests; ``approver`` is an agent who approves changes; ``manager`` may do everything an agent
can plus SLA policies, vendors, contracts, teams, users and the admin console.

Each app adds its models to the patterns below when it lands. ``sync_roles`` creates the groups
and grants every existing permission that matches; it runs in accounts' data migration and
again after every ``migrate`` (so permissions of apps migrated later are granted too). It only
adds: a permission an operator removed in the admin stays removed until its pattern changes.
"""

from fnmatch import fnmatchcase

VIEWER, AGENT, APPROVER, MANAGER = "viewer", "agent", "approver", "manager"
ROLES = (VIEWER, AGENT, APPROVER, MANAGER)

PORTAL_APPS = ("itom", "accounts", "cmdb", "slas", "incidents", "changes", "monitoring", "vendors")

_READ = tuple(f"{app}.view_*" for app in PORTAL_APPS) + ("auth.view_user",)
_AGENT_WRITE = (
    # CIs, their relationships and tags; CI classes and relationship types are managers' to shape.
    "cmdb.*_ci",
    "cmdb.*_relationship",
    "cmdb.*_tag",
    "incidents.*",
    # Change requests and draft standard-change templates; approval policies, the risk
    # questionnaire and blackout windows are managers' (approving a template too).
    "changes.add_changerequest",
    "changes.change_changerequest",
    "changes.add_standardchangetemplate",
    "changes.change_standardchangetemplate",
    # Vendors and contracts (and their costs) are managers'; agents escalate incidents to vendors.
    "vendors.add_vendorescalation",
    "vendors.change_vendorescalation",
    # Checks, alerts, maintenance windows and metric rules; zones and the inbound integrations
    # (which hold tokens) are managers'.
    "monitoring.*_check",
    "monitoring.*_checkresult",
    "monitoring.*_alert",
    "monitoring.*_maintenancewindow",
    "monitoring.*_metricrule",
    "monitoring.*_metricsample",
)
ROLE_PERMISSIONS = {
    VIEWER: _READ,
    AGENT: _READ + _AGENT_WRITE,
    APPROVER: _READ + _AGENT_WRITE,
    MANAGER: tuple(f"{app}.*" for app in PORTAL_APPS)
    + (
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
        "django_celery_beat.*",
        "axes.view_*",
        "axes.delete_*",
    ),
}
# Permissions no role is granted by pattern (only superusers hold them).
NEVER_GRANTED = tuple(
    f"itom.{verb}_{model}" for verb in ("add", "change", "delete") for model in ("objectchange", "numbersequence")
)


def has_role(user, *roles):
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_portal_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._portal_roles = cached
    return bool(cached.intersection(roles))


def is_manager(user):
    return has_role(user, MANAGER)


def sync_roles(apps=None, verbosity=0):
    """Create the role groups and grant the permissions their patterns match."""
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = list(Permission.objects.select_related("content_type"))
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        wanted = [
            p for p in permissions if _matches(f"{p.content_type.app_label}.{p.codename}", ROLE_PERMISSIONS[role])
        ]
        group.permissions.add(*wanted)


def _matches(name, patterns):
    return name not in NEVER_GRANTED and any(fnmatchcase(name, pattern) for pattern in patterns)
