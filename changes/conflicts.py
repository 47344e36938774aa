"""Scheduling conflicts of a change (issue 5 item 5): what else is booked in its planned window.

``find_conflicts(change)`` lists, for the change's planned window (or the ``start``/``end``
given, e.g. a schedule being edited):

- ``same_ci``: another change that touches one of this change's affected CIs;
- ``impacted_ci``: another change that touches a CI of this change's impact set, or whose
  impact set holds one of this change's affected CIs (either one may take the other's CIs down);
- ``assignee``: another change with the same assignee (they can't do both at once);
- ``blackout``: a blackout window in scope (``blocking_blackouts``).

"Another change" is one in ``BOOKED_STATES`` (authorize, scheduled, implement: new and assess
changes haven't claimed their window yet; done ones have released it) whose planned window
overlaps: windows are half-open, so one ending at 10:00 and one starting at 10:00 don't
overlap. Everything is read from the stored ``affected_cis``, ``impacted_cis`` and
``impacted_services`` (``changes.services.changes.refresh_impact`` keeps them up to date), never
from a walk of the CMDB.

A blackout window covers a change when it is active, overlaps the window, and is global (it names
no environment, class or service) or names (any of) the environment of one of the change's
affected or impacted CIs, a class of one of them or a class above it, or one of the business
services among the change's CIs (``impacted_services``, affected or impacted).

Cost: at most three queries whatever the number of CIs and changes — the blackout windows that
overlap (with their classes and services), this change's CIs (with the class tree when one of
those windows names classes), and the other changes that touch them or share the assignee —
each a UNION over the link tables. bench/changes.py measures it on 10,000 scheduled changes.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import CharField, F, IntegerField, Value
from django.utils import timezone

from changes.choices import BOOKED_STATES, ChangeState, ConflictKind
from changes.models import BlackoutWindow, ChangeRequest
from cmdb.choices import Environment
from cmdb.models import CIClass

# How many CI names a message spells out before it says "and N more".
NAMES_IN_MESSAGE = 5

AFFECTED, IMPACTED, SERVICE = "affected", "impacted", "service"


@dataclass
class Conflict:
    """One conflict of a change: ``kind`` is a ``ConflictKind``; ``message`` says it in a sentence.
    Against another change, ``change_*`` describe it and ``start``/``end`` are its planned window;
    against a blackout, ``blackout_*`` name the window and ``start``/``end`` are its dates.
    ``ci_ids``/``ci_names`` are the CIs involved (none for the assignee and a global blackout)."""

    kind: str
    message: str
    change_id: int | None = None
    change_number: str = ""
    change_title: str = ""
    change_state: str = ""
    start: datetime | None = None
    end: datetime | None = None
    ci_ids: tuple = ()
    ci_names: tuple = ()
    blackout_id: int | None = None
    blackout_name: str = ""


@dataclass
class _Scope:
    """This change's CIs: ``{id: name}`` per relation, and each CI's environment and class."""

    affected: dict = field(default_factory=dict)
    impacted: dict = field(default_factory=dict)
    services: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)
    ci_class: dict = field(default_factory=dict)
    parents: dict = field(default_factory=dict)  # {class id: parent id}, loaded only when needed

    @property
    def touched(self):
        """Affected and impacted CIs: ``{id: name}``."""
        return self.impacted | self.affected


@dataclass
class _Window:
    id: int
    name: str
    start: datetime
    end: datetime
    environment: str
    classes: dict = field(default_factory=dict)  # {class id: name}
    services: dict = field(default_factory=dict)  # {CI id: name}

    @property
    def is_global(self):
        return not (self.environment or self.classes or self.services)


# --- Public API --------------------------------------------------------------------------------


def find_conflicts(change, *, start=None, end=None):
    """The conflicts of ``change`` in its planned window (or ``start``–``end``): blackout windows
    first (by start), then the other changes (by planned start). None without a window. At most
    three queries (see the module docstring)."""
    start, end = _window(change, start, end)
    if start is None or end is None:
        return []
    windows = _overlapping_windows(start, end)
    scope = _scope(change, with_class_tree=any(w.classes for w in windows))
    conflicts = [_blackout_conflict(w, covered) for w, covered in _covering(windows, scope)]
    conflicts += _change_conflicts(change, scope, start, end)
    return conflicts


def blocking_blackouts(change, *, start=None, end=None):
    """The active ``BlackoutWindow`` rows overlapping the change's planned window (or
    ``start``–``end``) whose scope covers the change, by start; [] without a window."""
    start, end = _window(change, start, end)
    if start is None or end is None:
        return []
    windows = _overlapping_windows(start, end)
    if not windows:
        return []
    scope = _scope(change, with_class_tree=any(w.classes for w in windows))
    ids = [w.id for w, _covered in _covering(windows, scope)]
    return list(BlackoutWindow.objects.filter(pk__in=ids).order_by("start", "id")) if ids else []


def when(start, end):
    """A window in words, in the portal's time zone: "Tue 3 Mar 2026 10:00–12:00", or with both
    dates when it spans days."""
    start, end = timezone.localtime(start), timezone.localtime(end)
    first = f"{start:%a} {start.day} {start:%b %Y %H:%M}"
    if start.date() == end.date():
        return f"{first}–{end:%H:%M}"
    return f"{first} – {end:%a} {end.day} {end:%b %Y %H:%M}"


def window_label(window):
    """A blackout window named with its dates: "“Year-end freeze” (Fri 19 Dec 2025 18:00 – …)"."""
    return f"“{window.name}” ({when(window.start, window.end)})"


# --- Reading -----------------------------------------------------------------------------------


def _window(change, start, end):
    start = start if start is not None else change.planned_start
    end = end if end is not None else change.planned_end
    if start is not None and end is not None and end <= start:
        raise ValidationError({"end": "The end must be after the start."})
    return start, end


def _through(model, name):
    """A many-to-many field's link model and its two foreign key names (this side, the other)."""
    field_ = model._meta.get_field(name)
    return field_.remote_field.through, field_.m2m_field_name(), field_.m2m_reverse_field_name()


def _text(value):
    return Value(value, output_field=CharField())


def _rows(queryset, **columns):
    """``queryset`` as unordered tuples of ``columns`` (name=expression, in that order): one part
    of a UNION, whose parts must name the same columns in the same order."""
    return queryset.annotate(**columns).order_by().values_list(*columns)


def _overlapping_windows(start, end):
    """The active blackout windows overlapping ``start``–``end``, with their classes and services
    (one query: the windows UNION their class links UNION their service links)."""
    windows = _rows(
        BlackoutWindow.objects.filter(active=True, start__lt=end, end__gt=start),
        window_id=F("id"),
        window_name=F("name"),
        window_start=F("start"),
        window_end=F("end"),
        window_environment=F("environment"),
        part=_text("window"),
        ref=Value(None, output_field=IntegerField()),
        label=_text(""),
    )
    parts = [windows]
    for name, part, label in (("ci_classes", "class", "name"), ("business_services", "service", "name")):
        through, this, other = _through(BlackoutWindow, name)
        parts.append(
            _rows(
                through.objects.filter(
                    **{f"{this}__active": True, f"{this}__start__lt": end, f"{this}__end__gt": start}
                ),
                window_id=F(f"{this}_id"),
                window_name=F(f"{this}__name"),
                window_start=F(f"{this}__start"),
                window_end=F(f"{this}__end"),
                window_environment=F(f"{this}__environment"),
                part=_text(part),
                ref=F(f"{other}_id"),
                label=F(f"{other}__{label}"),
            )
        )
    found = {}
    for pk, name, w_start, w_end, environment, part, ref, label in parts[0].union(*parts[1:], all=True):
        window = found.setdefault(pk, _Window(pk, name, w_start, w_end, environment))
        if part == "class":
            window.classes[ref] = label
        elif part == "service":
            window.services[ref] = label
    return sorted(found.values(), key=lambda w: (w.start, w.id))


def _scope(change, *, with_class_tree=False):
    """This change's stored CIs (one query: a UNION over the three link tables, plus the class
    tree — ``{id: parent id}`` of every class — when ``with_class_tree``)."""
    scope = _Scope()
    if change.pk is None and not with_class_tree:
        return scope
    parts = []
    if change.pk is not None:
        for name, relation in (("affected_cis", AFFECTED), ("impacted_cis", IMPACTED), ("impacted_services", SERVICE)):
            through, this, other = _through(ChangeRequest, name)
            parts.append(
                _rows(
                    through.objects.filter(**{f"{this}_id": change.pk}),
                    relation=_text(relation),
                    item=F(f"{other}_id"),
                    label=F(f"{other}__name"),
                    env=F(f"{other}__environment"),
                    kind=F(f"{other}__ci_class_id"),
                )
            )
    if with_class_tree:
        parts.append(
            _rows(
                CIClass._base_manager.all(),
                relation=_text("class"),
                item=F("id"),
                label=_text(""),
                env=_text(""),
                kind=F("parent_id"),
            )
        )
    rows = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    for relation, pk, name, environment, class_id in rows:
        if relation == "class":
            scope.parents[pk] = class_id
            continue
        getattr(scope, relation if relation != SERVICE else "services")[pk] = name
        scope.environment[pk] = environment
        scope.ci_class[pk] = class_id
    return scope


# --- Blackouts ---------------------------------------------------------------------------------


def _lineage(class_id, parents):
    """``class_id`` and the classes above it."""
    seen = []
    while class_id is not None and class_id not in seen:
        seen.append(class_id)
        class_id = parents.get(class_id)
    return seen


def _covering(windows, scope):
    """``(window, reasons)`` for each window covering the change; ``reasons`` are
    ``(what, {ci id: name})`` pairs: ("global", {}), ("environment", …), ("class", …),
    ("service", …)."""
    touched = scope.touched
    lineages = {}
    for window in windows:
        if window.is_global:
            yield window, [("global", "", {})]
            continue
        reasons = []
        if window.environment:
            cis = {pk: name for pk, name in touched.items() if scope.environment.get(pk) == window.environment}
            if cis:
                reasons.append(("environment", window.environment, cis))
        if window.classes:
            for class_id, class_name in sorted(window.classes.items(), key=lambda item: item[1]):
                cis = {}
                for pk, name in touched.items():
                    own = scope.ci_class.get(pk)
                    if own not in lineages:
                        lineages[own] = _lineage(own, scope.parents)
                    if class_id in lineages[own]:
                        cis[pk] = name
                if cis:
                    reasons.append(("class", class_name, cis))
        if window.services:
            cis = {pk: name for pk, name in window.services.items() if pk in scope.services or pk in touched}
            if cis:
                reasons.append(("service", "", cis))
        if reasons:
            yield window, reasons


def _names(cis):
    names = sorted(cis.values(), key=str.lower)
    if len(names) > NAMES_IN_MESSAGE:
        rest = len(names) - NAMES_IN_MESSAGE
        return ", ".join(names[:NAMES_IN_MESSAGE]) + f" and {rest} more"
    return ", ".join(names)


def _reason_text(what, detail, cis):
    if what == "environment":
        return f"{Environment(detail).label.lower()} CIs ({_names(cis)})"
    if what == "class":
        return f"CIs of class {detail} ({_names(cis)})"
    noun = "business service" if len(cis) == 1 else "business services"
    return f"the {noun} {_names(cis)}"


def _blackout_conflict(window, reasons):
    cis = {}
    for _what, _detail, found in reasons:
        cis |= found
    if reasons[0][0] == "global":
        scope = "applies to every change"
    else:
        scope = "covers " + " and ".join(_reason_text(*reason) for reason in reasons)
    ordered = sorted(cis.items(), key=lambda item: item[1].lower())
    return Conflict(
        kind=ConflictKind.BLACKOUT,
        message=f"Blackout window {window_label(window)} {scope}.",
        start=window.start,
        end=window.end,
        ci_ids=tuple(pk for pk, _ in ordered),
        ci_names=tuple(name for _, name in ordered),
        blackout_id=window.id,
        blackout_name=window.name,
    )


# --- Other changes -----------------------------------------------------------------------------


def _change_conflicts(change, scope, start, end):
    """The other booked changes overlapping ``start``–``end`` that touch this change's CIs or share
    its assignee (one query: a UNION over the two CI link tables and the changes)."""
    booked = {"state__in": BOOKED_STATES, "planned_start__lt": end, "planned_end__gt": start}
    # The CIs matched are this change's own: their names come from ``scope``, not from a join.
    parts = []
    # Other changes affecting one of our affected or impacted CIs; other changes impacting one of ours.
    for name, relation, ours in (
        ("affected_cis", AFFECTED, scope.touched),
        ("impacted_cis", IMPACTED, scope.affected),
    ):
        if not ours:
            continue
        through, this, other = _through(ChangeRequest, name)
        parts.append(
            _rows(
                through.objects.filter(
                    **{f"{other}_id__in": list(ours)}, **{f"{this}__{k}": v for k, v in booked.items()}
                ).exclude(**{f"{this}_id": change.pk}),
                other=F(f"{this}_id"),
                relation=_text(relation),
                item=F(f"{other}_id"),
                o_number=F(f"{this}__number"),
                o_title=F(f"{this}__title"),
                o_state=F(f"{this}__state"),
                o_start=F(f"{this}__planned_start"),
                o_end=F(f"{this}__planned_end"),
            )
        )
    if change.assignee_id is not None:
        parts.append(
            _rows(
                ChangeRequest.objects.filter(assignee_id=change.assignee_id, **booked).exclude(pk=change.pk),
                other=F("id"),
                relation=_text("assignee"),
                item=Value(None, output_field=IntegerField()),
                o_number=F("number"),
                o_title=F("title"),
                o_state=F("state"),
                o_start=F("planned_start"),
                o_end=F("planned_end"),
            )
        )
    if not parts:
        return []
    others, hits = {}, {}
    names = scope.touched
    for pk, relation, ci_id, number, title, state, o_start, o_end in parts[0].union(*parts[1:], all=True):
        others[pk] = (number, title, state, o_start, o_end)
        ci_name = names.get(ci_id, "")
        if relation == "assignee":
            hits.setdefault((pk, ConflictKind.ASSIGNEE), {})
        elif relation == AFFECTED and ci_id in scope.affected:
            hits.setdefault((pk, ConflictKind.SAME_CI), {})[ci_id] = (ci_name, "same")
        elif relation == AFFECTED:  # another change changes a CI our change impacts
            hits.setdefault((pk, ConflictKind.IMPACTED_CI), {})[ci_id] = (ci_name, "theirs")
        else:  # another change impacts a CI our change changes
            hits.setdefault((pk, ConflictKind.IMPACTED_CI), {}).setdefault(ci_id, (ci_name, "ours"))
    order = {kind: i for i, kind in enumerate(ConflictKind.values)}

    def by_start(item):
        (pk, kind), _cis = item
        return others[pk][3], pk, order[kind]

    conflicts = []
    for (pk, kind), cis in sorted(hits.items(), key=by_start):
        number, title, state, o_start, o_end = others[pk]
        ordered = sorted(cis.items(), key=lambda item: item[1][0].lower())
        conflicts.append(
            Conflict(
                kind=kind,
                message=_change_message(kind, number, title, state, o_start, o_end, cis),
                change_id=pk,
                change_number=number,
                change_title=title,
                change_state=state,
                start=o_start,
                end=o_end,
                ci_ids=tuple(ci for ci, _ in ordered),
                ci_names=tuple(name for _, (name, _how) in ordered),
            )
        )
    return conflicts


def _change_message(kind, number, title, state, start, end, cis):
    other = f"{number} “{title}” ({ChangeState(state).label.lower()}, {when(start, end)})"
    if kind == ConflictKind.ASSIGNEE:
        return f"The assignee is also booked on {other}."
    if kind == ConflictKind.SAME_CI:
        return f"{other} also changes {_names({pk: name for pk, (name, _how) in cis.items()})}."
    theirs = {pk: name for pk, (name, how) in cis.items() if how == "theirs"}
    ours = {pk: name for pk, (name, how) in cis.items() if how == "ours"}
    parts = []
    if theirs:
        parts.append(f"changes {_names(theirs)}, in this change's impact set")
    if ours:
        parts.append(f"impacts {_names(ours)}, which this change changes")
    return f"{other} {' and '.join(parts)}."
