"""The incident pages: the queue (tabs My work / My team's / Unassigned / Breaching soon / All
open / All, filters, search, sort, pages, CSV, and a bulk bar to assign, change state or open a
problem), the add/edit form (priority shown live with htmx, the assignee list following the
team, affected CIs picked by search), and the detail page: fields, affected CIs and business
services, SLA badges, the timeline with its comment / work note / file form, the actions the
state allows, the major-incident actions and the suggested known errors; its SLA tab explains
every clock segment by segment, its History tab shows the audit trail.

Every write goes through ``incidents.services.incidents``. Viewers see every page without write
controls; writes need ``incidents.add_incident`` / ``incidents.change_incident`` (agents and
managers) and answer 403 otherwise.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Prefetch, Subquery
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View, generic

from accounts.models import Team
from incidents import extensions
from incidents.choices import OPEN_STATES, HoldReason, IncidentState, ResolutionCode, TimelineKind
from incidents.filters.incidents import QUEUES, IncidentFilterSet
from incidents.forms.incidents import (
    AssignForm,
    BulkForm,
    CommentForm,
    IncidentForm,
    LinkChildForm,
    LinkParentForm,
    MajorUpdateForm,
    PriorityPreviewForm,
    ResolveChildrenForm,
    TransitionForm,
    assignee_choices,
)
from incidents.models import Incident, TimelineEntry
from incidents.selectors import suggested_known_errors
from incidents.services import incidents as services
from itom.api.exceptions import Conflict, TransitionNotAllowed
from itom.forms import bootstrap_form
from itom.generic import (
    Column,
    ObjectActionView,
    ObjectEditView,
    ObjectHistoryView,
    ObjectTransitionView,
    PortalPermissionMixin,
    QueueListView,
    errors_to_form,
    object_actions,
    timeline_page,
)
from slas.choices import ACTIVE_CLOCK_STATES, Metric
from slas.explain import explain
from slas.models import SLAClock
from slas.selectors import clock_prefetch

TIMELINE_PAGE_SIZE = 50
FINAL_STATES = (IncidentState.CLOSED, IncidentState.CANCELED)  # no more edits or assignments

# The queue's tabs: IncidentFilterSet's ``queue`` values (the API's too), and "" for every
# incident, closed ones included.
QUEUE_TABS = [*QUEUES, ("", "All")]
DEFAULT_QUEUE = "open"
# The filters the queue shows; the filterset's others (category, assignee, ci, created…) still
# work from a link, carried along as hidden fields. Every shown select of rows (teams) costs a
# query, and the page keeps to ten whatever its size.
SHOWN_FILTERS = ["q", "state", "priority", "assignment_team", "source", "is_major"]


def incident_tabs(incident):
    """The tabs between Details and History (``incidents/incident_header.html``)."""
    return [{"key": "sla", "label": "SLA", "url": reverse("incidents:incident_sla", args=[incident.pk])}]


def human_duration(seconds):
    """``90`` → "1 min", ``5400`` → "1 h 30 min", ``97200`` → "1 d 3 h" (whole minutes)."""
    minutes = int(seconds or 0) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    return " ".join(part for part in parts if part) or "0 min"


def sorted_clocks(incident):
    """The incident's clocks (prefetched by ``clock_prefetch``), response first, each with its
    target in words (``target_text``)."""
    clocks = sorted(incident.sla_clocks.all(), key=lambda clock: clock.metric != Metric.RESPONSE)
    for clock in clocks:
        clock.target_text = human_duration(clock.target_seconds)
    return clocks


class IncidentTabsMixin:
    """What every tab's header shows: the tabs, and the SLA badges."""

    def get_context_data(self, **kwargs):
        kwargs.setdefault("extra_tabs", incident_tabs(self.object))
        kwargs.setdefault("clocks", sorted_clocks(self.object))
        context = super().get_context_data(**kwargs)
        context["can_delete"] = False  # incidents are canceled, never deleted
        return context


def headline_clock(clocks):
    """The clock a row shows: one past its target and still counting, else the running or
    paused one due first, else the resolution clock (met, breached or canceled), else any."""
    clocks = list(clocks)
    breached = [c for c in clocks if c.breached_at is not None and c.state in ACTIVE_CLOCK_STATES]
    if breached:
        return breached[0]
    active = [c for c in clocks if c.state in ACTIVE_CLOCK_STATES and c.due_at]
    if active:
        return min(active, key=lambda c: c.due_at)
    resolution = [c for c in clocks if c.metric == Metric.RESOLUTION]
    return (resolution or clocks or [None])[0]


def badge_clocks():
    """The clocks a list shows as badges, with their policy and calendar, in one query (the
    badges' business-time figures come from ``slas.selectors.schedule_for``, cached per calendar
    version, so the calendars' hours and holidays are not read again for every page)."""
    return Prefetch(
        "sla_clocks", queryset=SLAClock.objects.select_related("policy", "calendar").order_by("metric", "pk")
    )


def safe_next(request, url, fallback):
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=False):
        return url
    return fallback


def sla_due_subquery():
    """The earliest due time of an incident's running or paused clocks (sortable, and the CSV's)."""
    return Subquery(
        SLAClock.objects.filter(
            content_type__app_label="incidents",
            content_type__model="incident",
            object_id=OuterRef("pk"),
            state__in=ACTIVE_CLOCK_STATES,
        )
        .order_by("due_at")
        .values("due_at")[:1]
    )


# Queue -----------------------------------------------------------------------------------------
class IncidentListView(QueueListView):
    model = Incident
    filterset_class = IncidentFilterSet
    template_name = "incidents/incident_list.html"
    partial_template_name = "incidents/incident_list_table.html"
    shown_filters = SHOWN_FILTERS
    queue_tabs = QUEUE_TABS
    default_queue = DEFAULT_QUEUE
    paginate_by = 25
    columns = [
        Column("number", link=True),
        Column("title"),
        Column("priority"),
        Column("state"),
        Column("assignment_team", label="Team", sort="assignment_team__name"),
        Column("assignee", sort="assignee__username"),
        Column("sla_due", label="SLA due", sort="sla_due"),
        Column("updated_at", label="Updated"),
    ]

    def get_base_queryset(self):
        return (
            Incident.objects.select_related("assignment_team", "assignee")
            .annotate(sla_due=sla_due_subquery())
            .prefetch_related(badge_clocks())
        )

    def get_filterset(self):
        """The current tab is the filterset's ``queue`` (All open when the URL names none); the
        page shows the common filters and carries the API's others along as hidden fields."""
        filterset = super().get_filterset()
        if "is_major" in filterset.form.fields:
            filterset.form.fields["is_major"].widget.choices = [
                ("unknown", "Any"),
                ("true", "Major only"),
                ("false", "Not major"),
            ]
        return filterset

    def export_csv(self, queryset, columns):
        # The CSV streams every row: no prefetching (the SLA column is the annotated due time).
        return super().export_csv(queryset.prefetch_related(None), columns)

    def get_context_data(self, **kwargs):
        for incident in kwargs.get("object_list", ()):
            incident.headline_clock = headline_clock(incident.sla_clocks.all())
        can_change = self.request.user.has_perm("incidents.change_incident")
        # One query of teams for both the filter and the bulk bar.
        teams = [(team.pk, team.name) for team in Team.objects.order_by("name").only("pk", "name")]
        filter_form = kwargs["filterset"].form
        if "assignment_team" in filter_form.fields and not filter_form.fields["assignment_team"].widget.is_hidden:
            filter_form.fields["assignment_team"].widget.choices = teams
        bulk_form = None
        if can_change:
            bulk_form = bootstrap_form(BulkForm(auto_id="bulk_%s"))
            bulk_form.fields["assignment_team"].widget.choices = [("", "—"), *teams]
        kwargs.update(
            title="Incidents",
            can_bulk=can_change,
            bulk_form=bulk_form,
            can_create_problem=self.request.user.has_perm("incidents.add_problem"),
            can_manage_slas=self.request.user.has_perm("slas.change_slapolicy"),
        )
        return super().get_context_data(**kwargs)


class IncidentBulkView(PortalPermissionMixin, View):
    """POST from the queue's bulk bar: assign the ticked incidents, or move them to a state.
    Each incident is judged on its own; what could not be done is listed with the reason."""

    model = Incident
    permission_action = "change"

    def post(self, request):
        form = BulkForm(request.POST, auto_id="bulk_%s")
        back = safe_next(request, request.POST.get("next"), reverse("incidents:incident_list"))
        if not form.is_valid():
            for field, errors in form.errors.items():
                label = form.fields[field].label if field in form.fields else ""
                for error in errors:
                    messages.error(request, f"{label}: {error}" if label else error)
            return redirect(back)
        data = form.cleaned_data
        ids = data["ids"]
        try:
            if data["action"] == BulkForm.ASSIGN:
                result = services.bulk_assign(
                    ids, user=request.user, team=data["assignment_team"], assignee=data["assignee"]
                )
                whom = data["assignee"] or data["assignment_team"]
                done = f"Assigned {len(result.done)} incident{'s' if len(result.done) != 1 else ''} to {whom}."
            else:
                result = services.bulk_transition(
                    ids,
                    data["state"],
                    user=request.user,
                    note=data["note"],
                    hold_reason=data["hold_reason"],
                    resolution_code=data["resolution_code"],
                )
                label = IncidentState(data["state"]).label.lower()
                done = f"Moved {len(result.done)} incident{'s' if len(result.done) != 1 else ''} to {label}."
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect(back)
        if result.done:
            messages.success(request, done)
        if result.errors:
            numbers = dict(Incident.objects.filter(pk__in=list(result.errors)).values_list("pk", "number"))
            for pk, message in result.errors.items():
                messages.error(request, f"{numbers.get(int(pk), f'#{pk}')}: {message}")
        return redirect(back)


# Add / edit and its htmx helpers ---------------------------------------------------------------
class IncidentEditView(ObjectEditView):
    model = Incident
    form_class = IncidentForm
    template_name = "incidents/incident_form.html"

    def get_queryset(self):
        return Incident.objects.select_related("assignment_team", "category").prefetch_related(
            "affected_cis", "watchers"
        )

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs.pop("instance", None)
        kwargs["incident"] = self.object
        return kwargs

    def get_initial(self):
        initial = super().get_initial()
        if self.object is None:
            team = self.request.GET.get("assignment_team", "")
            if team.isdigit():
                initial["assignment_team"] = int(team)
        return initial

    def save_form(self, form):
        data, user = form.cleaned_data, self.request.user
        if self.object is None:
            return services.create_incident(
                user=user,
                source="manual",
                title=data["title"],
                description=data["description"],
                impact=data["impact"],
                urgency=data["urgency"],
                category=data["category"],
                caller=data["caller"],
                caller_contact=data["caller_contact"],
                assignment_team=data["assignment_team"],
                assignee=data["assignee"],
                affected_cis=list(data["affected_cis"]),
                watchers=list(data["watchers"]),
            )
        incident = self.object
        try:
            changed = form.changed_fields()
            if changed:
                incident = services.update_incident(incident, user=user, **changed)
            if form.assignment_changed():
                incident = services.assign(incident, user=user, team=data["assignment_team"], assignee=data["assignee"])
        except Conflict as exc:  # closed or canceled meanwhile: said on top of the form
            raise ValidationError(str(exc.detail)) from None
        return incident

    def locked_reason(self, incident):
        if incident.state in FINAL_STATES:
            return f"{incident.number} is {incident.get_state_display().lower()}: it can no longer be edited."
        return None

    def get_context_data(self, **kwargs):
        form = kwargs.get("form") or self.get_form()
        impact, urgency = form["impact"].value(), form["urgency"].value()
        kwargs.setdefault("priority", _priority_or_none(impact, urgency))
        kwargs.setdefault("chosen_cis", form.chosen_cis())
        return super().get_context_data(**kwargs)


def _priority_or_none(impact, urgency):
    preview = PriorityPreviewForm({"impact": impact, "urgency": urgency})
    if not preview.is_valid():
        return None
    return services.priority_for(preview.cleaned_data["impact"], preview.cleaned_data["urgency"])


class PriorityPreviewView(PortalPermissionMixin, View):
    """htmx GET ``?impact=&urgency=``: the priority badge the matrix gives (400 naming the bad
    value otherwise)."""

    model = Incident

    def get(self, request):
        form = PriorityPreviewForm(request.GET)
        if not form.is_valid():
            reasons = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())
            return HttpResponseBadRequest(reasons, content_type="text/plain; charset=utf-8")
        priority = services.priority_for(form.cleaned_data["impact"], form.cleaned_data["urgency"])
        return render(request, "incidents/incident_priority_preview.html", {"priority": priority})


class AssigneeOptionsView(PortalPermissionMixin, View):
    """htmx GET ``?assignment_team=<id>&assignee=<id>``: the ``<option>``s of the team's members,
    the current pick kept when they belong to the new team."""

    model = Incident

    def get(self, request):
        raw_team, raw_assignee = request.GET.get("assignment_team", ""), request.GET.get("assignee", "")
        team = Team.objects.filter(pk=raw_team).first() if raw_team.isdigit() else None
        return render(
            request,
            "incidents/incident_assignee_options.html",
            {"choices": assignee_choices(team), "selected": raw_assignee},
        )


# Detail ----------------------------------------------------------------------------------------
# The action button each state move gets: (label, button style); the in_progress label depends
# on where the incident is (new → start, on hold → resume, resolved → reopen).
MOVE_LABELS = {
    IncidentState.ON_HOLD: ("Put on hold", "warning"),
    IncidentState.RESOLVED: ("Resolve", "success"),
    IncidentState.CLOSED: ("Close", "secondary"),
    IncidentState.CANCELED: ("Cancel incident", "outline-danger"),
}
IN_PROGRESS_LABELS = {
    IncidentState.NEW: "Start work",
    IncidentState.ON_HOLD: "Resume work",
    IncidentState.RESOLVED: "Reopen",
}


# Moves that ask for details first (a reason, a resolution); the others are one click.
NEEDS_DETAILS = (IncidentState.ON_HOLD, IncidentState.RESOLVED, IncidentState.CANCELED)


def move_label(incident, state):
    if state == IncidentState.IN_PROGRESS:
        return IN_PROGRESS_LABELS.get(incident.state, "Start work"), "primary"
    return MOVE_LABELS.get(state, (IncidentState(state).label, "secondary"))


def _state_label(value):
    return IncidentState(value).label if value in IncidentState.values else str(value or "—")


def timeline_summary(entry):
    """The line above a timeline entry's text: what happened, in words (the entry's ``data``)."""
    data = entry.data or {}
    if entry.kind == TimelineKind.STATE:
        if data.get("from") is None:
            return "Opened"
        text = f"{_state_label(data.get('from'))} → {_state_label(data.get('to'))}"
        if data.get("reopened"):
            text = f"Reopened ({text})"
        if data.get("hold_reason") in HoldReason.values:
            text += f" · {HoldReason(data['hold_reason']).label}"
        if data.get("resolution_code") in ResolutionCode.values:
            text += f" · {ResolutionCode(data['resolution_code']).label}"
        return text
    if entry.kind == TimelineKind.PRIORITY and "from" in data:
        return f"Priority P{data['from']} → P{data['to']}"
    return ""


def detail_queryset():
    return Incident.objects.select_related(
        "category", "caller", "assignment_team", "assignee", "parent", "problem", "opened_by"
    ).prefetch_related("affected_cis__ci_class", "affected_services", "watchers", clock_prefetch())


class IncidentDetailView(IncidentTabsMixin, PortalPermissionMixin, generic.DetailView):
    """The detail page. The action views render it again with their form bound and its errors
    when the service refuses (``ObjectActionView.render_detail``)."""

    model = Incident
    template_name = "incidents/incident_detail.html"

    def get_queryset(self):
        return detail_queryset()

    def get_context_data(self, **kwargs):
        incident, user = self.object, self.request.user
        can_change = user.has_perm("incidents.change_incident")
        timeline = TimelineEntry.objects.filter(incident=incident).select_related("author", "attachment", "origin")
        kwargs.update(
            opts=Incident._meta,
            active_tab="details",
            timeline_page=timeline_page(self.request, timeline, timeline_summary, TIMELINE_PAGE_SIZE),
            is_open=incident.state in OPEN_STATES,
            children=list(incident.children.select_related("assignment_team", "assignee").order_by("state", "number"))
            if incident.is_major
            else [],
            suggested_known_errors=suggested_known_errors(incident) if incident.state not in FINAL_STATES else [],
            can_view_known_errors=user.has_perm("incidents.view_knownerror"),
            extension_actions=extensions.actions_for(user, incident),
            **object_actions(user, Incident._meta),
        )
        if can_change:
            self.add_action_forms(incident, user, kwargs)
        return super().get_context_data(**kwargs)

    def add_action_forms(self, incident, user, context):
        allowed = services.allowed_transitions(incident)
        forms = context.setdefault("action_forms", {})
        moves = []
        for state in allowed:
            form = forms.get(state) or TransitionForm(initial={"state": state}, auto_id=f"move_{state}_%s")
            label, style = move_label(incident, state)
            needs_form = state in NEEDS_DETAILS or (
                state == IncidentState.IN_PROGRESS and incident.state == IncidentState.RESOLVED
            )
            moves.append(
                {"state": state, "label": label, "style": style, "form": bootstrap_form(form), "needs_form": needs_form}
            )
        context["moves"] = moves
        context["open_action"] = context.get("open_action", "")
        context.setdefault("assign_form", AssignForm(incident=incident, auto_id="assign_%s"))
        bootstrap_form(context["assign_form"])
        context.setdefault("comment_form", bootstrap_form(CommentForm(auto_id="comment_%s")))
        context["can_assign_to_me"] = incident.state not in FINAL_STATES and incident.assignee_id != user.pk
        if incident.is_major:
            context.setdefault("link_child_form", bootstrap_form(LinkChildForm(auto_id="child_%s")))
            context.setdefault("major_update_form", bootstrap_form(MajorUpdateForm(auto_id="major_%s")))
            if any(child.state in OPEN_STATES for child in context["children"]):
                context.setdefault(
                    "resolve_children_form",
                    bootstrap_form(
                        ResolveChildrenForm(
                            initial={"resolution_code": incident.resolution_code, "note": incident.resolution_notes},
                            auto_id="children_%s",
                        )
                    ),
                )
        elif incident.parent_id is None and incident.state in OPEN_STATES:
            context.setdefault("link_parent_form", bootstrap_form(LinkParentForm(auto_id="parent_%s")))
            context["open_majors"] = list(
                Incident.objects.filter(is_major=True, state__in=OPEN_STATES).order_by("-created_at")[:5]
            )
        context["can_promote"] = not incident.is_major and incident.parent_id is None and incident.state in OPEN_STATES


class IncidentActionView(ObjectActionView):
    """A POST that changes one incident through a service (``ObjectActionView``). A form that
    does not validate, or a ``ValidationError``, comes back on the page (200); a refused state
    change answers 409 with the allowed moves on top of the page (``refused``)."""

    model = Incident
    detail_view = IncidentDetailView
    invalid_status = 200
    refusals = (TransitionNotAllowed, Conflict, ValidationError)

    def refused(self, incident, form, exc):
        if isinstance(exc, ValidationError):
            if form is None:
                for text in exc.messages:
                    messages.error(self.request, text)
                return redirect(incident.get_absolute_url())
            errors_to_form(form, exc, getattr(form, "ERROR_ALIASES", None))
            return self.render_detail(incident, **self.overrides(form))
        # The incident moved on (someone else acted): say so on top of the page, 409.
        messages.error(self.request, str(exc.detail))
        if form is None:
            return redirect(incident.get_absolute_url())
        return self.render_detail(incident, status=409)


class AssignToMeView(IncidentActionView):
    """Assign the incident to the person clicking, in its team (an incident without a team
    goes to theirs when they are in exactly one: the service's rule, and its refusal)."""

    def act(self, incident, form):
        services.assign(incident, user=self.request.user, assignee=self.request.user)
        return f"{incident.number} is assigned to you."


class AssignView(IncidentActionView):
    form_class = AssignForm
    form_key = "assign_form"
    auto_id = "assign_%s"

    def act(self, incident, form):
        data = form.cleaned_data
        incident = services.assign(
            incident, user=self.request.user, team=data["assignment_team"], assignee=data["assignee"]
        )
        whom = data["assignee"] or data["assignment_team"]
        return f"{incident.number} is assigned to {whom}."


class TransitionView(ObjectTransitionView, IncidentActionView):
    form_class = TransitionForm
    states = IncidentState.values

    def act(self, incident, form):
        data = form.cleaned_data
        incident = services.transition(
            incident,
            data["state"],
            user=self.request.user,
            note=data["note"],
            hold_reason=data["hold_reason"],
            resolution_code=data["resolution_code"],
        )
        return f"{incident.number} is now {incident.get_state_display().lower()}."


class CommentView(IncidentActionView):
    form_class = CommentForm
    form_key = "comment_form"
    anchor = "#timeline"
    auto_id = "comment_%s"

    def act(self, incident, form):
        data, user = form.cleaned_data, self.request.user
        body = (data["body"] or "").strip()
        parts = []
        # The words first: a refused file then undoes them, and no stored file is left behind.
        if body:
            public = data["kind"] == CommentForm.COMMENT
            services.add_comment(incident, user=user, body=body, public=public)
            parts.append("comment added" if public else "work note added")
        if data["file"]:
            attachment = services.add_attachment(incident, user=user, uploaded_file=data["file"])
            parts.append(f"attached {attachment.name}")
        return f"{incident.number}: {' and '.join(parts)}."


class PromoteView(IncidentActionView):
    def act(self, incident, form):
        services.promote_major(incident, user=self.request.user)
        return f"{incident.number} is now a major incident."


class LinkParentView(IncidentActionView):
    form_class = LinkParentForm
    form_key = "link_parent_form"
    auto_id = "parent_%s"

    def act(self, incident, form):
        parent = form.cleaned_data["parent"]
        services.link_child(parent, incident, user=self.request.user)
        return f"{incident.number} is now part of major incident {parent.number}."


class LinkChildView(IncidentActionView):
    form_class = LinkChildForm
    form_key = "link_child_form"
    anchor = "#major-incident"
    auto_id = "child_%s"

    def act(self, incident, form):
        child = form.cleaned_data["child"]
        services.link_child(incident, child, user=self.request.user)
        return f"{child.number} is now part of {incident.number}."


class UnlinkChildView(IncidentActionView):
    anchor = "#major-incident"

    def post(self, request, pk, child_pk):
        self.child = get_object_or_404(Incident, pk=child_pk, parent_id=pk)
        return super().post(request, pk)

    def act(self, incident, form):
        services.unlink_child(self.child, user=self.request.user)
        return f"{self.child.number} is no longer part of {incident.number}."


class MajorUpdateView(IncidentActionView):
    form_class = MajorUpdateForm
    form_key = "major_update_form"
    anchor = "#major-incident"
    auto_id = "major_%s"

    def act(self, incident, form):
        services.post_major_update(incident, user=self.request.user, body=form.cleaned_data["body"])
        return f"Update posted on {incident.number} and its child incidents."


class ResolveChildrenView(IncidentActionView):
    form_class = ResolveChildrenForm
    form_key = "resolve_children_form"
    anchor = "#major-incident"
    auto_id = "children_%s"

    def act(self, incident, form):
        data = form.cleaned_data
        count = services.resolve_children(
            incident, user=self.request.user, resolution_code=data["resolution_code"], note=data["note"]
        )
        return f"Resolved {count} child incident{'s' if count != 1 else ''} of {incident.number}."


# SLA and History tabs --------------------------------------------------------------------------
class IncidentSLAView(IncidentTabsMixin, PortalPermissionMixin, generic.DetailView):
    """The SLA tab: for each clock its badge, its policy and target, and the explained timeline
    (counted, paused, out-of-hours, weekend and holiday segments, each with its reason)."""

    model = Incident
    template_name = "incidents/incident_sla.html"

    def get_queryset(self):
        return Incident.objects.select_related("assignment_team", "assignee").prefetch_related(clock_prefetch())

    def get_context_data(self, **kwargs):
        kwargs.update(
            opts=Incident._meta,
            active_tab="sla",
            explained=[(clock, explain(clock)) for clock in sorted_clocks(self.object)],
            can_manage_slas=self.request.user.has_perm("slas.change_slapolicy"),
            **object_actions(self.request.user, Incident._meta),
        )
        return super().get_context_data(**kwargs)


class IncidentHistoryView(IncidentTabsMixin, ObjectHistoryView):
    model = Incident
    queryset = Incident.objects.prefetch_related(clock_prefetch())
    template_name = "incidents/incident_history.html"
