"""Read-side queries of monitoring worth naming: which CIs are under maintenance (a change being
implemented, or a maintenance window), and which CIs have an upstream CI that is down.

Both answer for a whole batch of CIs at once in a bounded number of queries (the poller asks for
every check of a batch), never one query per CI.
"""

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from changes.selectors import maintenance_changes
from cmdb.models import CI, CIClass, Relationship
from monitoring.choices import AlertStatus, CheckState, Recurrence, Suppression
from monitoring.models import Alert, MaintenanceWindow

# A weekly window lasts at most a week (``duration_minutes`` ≤ 10080).
MAX_WEEKLY_MINUTES = 7 * 24 * 60
# The check states of a down parent: hard down, or itself unreachable behind its own parent.
DOWN_STATES = (CheckState.DOWN, CheckState.UNREACHABLE)


def window_is_active(window, at=None):
    """Whether ``window`` covers the moment ``at`` (default now). One-off: ``start ≤ at < end``.
    Weekly: an occurrence — on one of ``weekdays`` (0 = Monday), from ``start_time`` (in
    TIME_ZONE) for ``duration_minutes`` — runs at ``at``; occurrences start on the days from
    ``start``'s date to ``end``'s date (no end: for ever), and one may run past midnight."""
    at = at or timezone.now()
    if not window.active:
        return False
    if window.recurrence == Recurrence.ONCE:
        return window.start <= at and window.end is not None and at < window.end
    if window.start_time is None or not window.duration_minutes or not window.weekdays:
        return False
    zone = timezone.get_default_timezone()
    first_day = timezone.localtime(window.start, zone).date()
    last_day = timezone.localtime(window.end, zone).date() if window.end is not None else None
    duration = timedelta(minutes=window.duration_minutes)
    today = timezone.localtime(at, zone).date()
    weekdays = {int(day) for day in window.weekdays}
    # Occurrences that started today or on the days before that could still be running.
    for back in range(0, window.duration_minutes // (24 * 60) + 2):
        day = today - timedelta(days=back)
        if day.weekday() not in weekdays or day < first_day or (last_day is not None and day > last_day):
            continue
        begins = timezone.make_aware(datetime.combine(day, window.start_time), zone)
        if begins <= at < begins + duration:
            return True
    return False


def active_windows(at=None):
    """The maintenance windows running at ``at`` (one query; the weekly ones are checked here)."""
    at = at or timezone.now()
    candidates = MaintenanceWindow.objects.filter(active=True, start__lte=at).filter(
        Q(recurrence=Recurrence.ONCE, end__gt=at)
        | Q(recurrence=Recurrence.WEEKLY)
        & (Q(end__isnull=True) | Q(end__gte=at - timedelta(minutes=MAX_WEEKLY_MINUTES + 24 * 60)))
    )
    return [window for window in candidates.order_by("id") if window_is_active(window, at)]


def _covering_windows(ci_ids, windows):
    """``{ci_id: window_id}`` for those of ``ci_ids`` one of ``windows`` covers (by CI, by class
    or a class above it, or by tag); the lowest window id when several do."""
    window_ids = [window.pk for window in windows]
    cover = {}  # ci_id → window ids

    def add(ci_id, window_id):
        cover.setdefault(ci_id, set()).add(window_id)

    by_ci = MaintenanceWindow.cis.through.objects.filter(maintenancewindow_id__in=window_ids, ci_id__in=ci_ids)
    for ci_id, window_id in by_ci.values_list("ci_id", "maintenancewindow_id"):
        add(ci_id, window_id)
    class_links = list(
        MaintenanceWindow.ci_classes.through.objects.filter(maintenancewindow_id__in=window_ids).values_list(
            "ciclass_id", "maintenancewindow_id"
        )
    )
    if class_links:
        parents = CIClass.objects.parents_by_id()
        windows_of_class = {}
        for class_id, window_id in class_links:
            for descendant in CIClass.objects.descendant_ids(class_id, parents):
                windows_of_class.setdefault(descendant, set()).add(window_id)
        for ci_id, class_id in CI.objects.filter(pk__in=ci_ids, ci_class_id__in=list(windows_of_class)).values_list(
            "pk", "ci_class_id"
        ):
            for window_id in windows_of_class[class_id]:
                add(ci_id, window_id)
    tag_links = list(
        MaintenanceWindow.tags.through.objects.filter(maintenancewindow_id__in=window_ids).values_list(
            "tag_id", "maintenancewindow_id"
        )
    )
    if tag_links:
        windows_of_tag = {}
        for tag_id, window_id in tag_links:
            windows_of_tag.setdefault(tag_id, set()).add(window_id)
        tagged = CI.tags.through.objects.filter(ci_id__in=ci_ids, tag_id__in=list(windows_of_tag))
        for ci_id, tag_id in tagged.values_list("ci_id", "tag_id"):
            for window_id in windows_of_tag[tag_id]:
                add(ci_id, window_id)
    return {ci_id: min(found) for ci_id, found in cover.items()}


def maintenance_for(ci_ids, at=None):
    """``{ci_id: ("change", change_id) | ("window", window_id)}`` for those of ``ci_ids`` under
    maintenance at ``at`` (default now): a change being implemented that affects or impacts the
    CI first (``changes.selectors.maintenance_changes``: that is always "now"), else a running
    maintenance window that covers it. At most eight queries whatever the number of CIs; none
    when ``ci_ids`` is empty."""
    ci_ids = sorted({int(pk) for pk in ci_ids if pk is not None})
    if not ci_ids:
        return {}
    found = {ci_id: ("change", change_id) for ci_id, change_id in maintenance_changes(ci_ids).items()}
    rest = [ci_id for ci_id in ci_ids if ci_id not in found]
    windows = active_windows(at) if rest else []
    if windows:
        for ci_id, window_id in _covering_windows(rest, windows).items():
            found[ci_id] = ("window", window_id)
    return found


def down_parents(ci_ids):
    """``{ci_id: parent_alert_id}`` for those of ``ci_ids`` with a direct upstream CI that is
    down: the CI depends on it through a relationship whose type propagates failure (the CI is
    the relationship's source), and the upstream CI has a firing alert of a check in state down
    or unreachable, not held back by maintenance (an alert attached to its own parent counts: a
    chain of parents ends at the first one down). The lowest alert id when several. One query."""
    ci_ids = sorted({int(pk) for pk in ci_ids if pk is not None})
    if not ci_ids:
        return {}
    down = Alert.objects.filter(
        status=AlertStatus.FIRING,
        suppressed__in=[Suppression.NONE, Suppression.PARENT],
        monitor__state__in=DOWN_STATES,
    )
    rows = (
        Relationship.objects.filter(source_id__in=ci_ids, type__propagates_failure=True)
        .filter(target__alerts__in=down)
        .values_list("source_id", "target__alerts__id")
        .order_by()
    )
    found = {}
    for ci_id, alert_id in rows:
        if ci_id not in found or alert_id < found[ci_id]:
            found[ci_id] = alert_id
    return found
