"""A change's page: the header (number, type, state, effective risk), the moves its state allows
(each with the form it needs: a note, a close code, review notes, an emergency justification),
the approval panel (the round's stages and decisions; approve or reject with a comment, for the
eligible approvers only), the risk card (score, level, the factors that explain it, a manager's
override), the conflicts panel, the linked and caused incidents, the affected and impacted CIs
and services, and the timeline with its work-note form.

Every action is a POST through ``changes.services``; a refusal brings the page back with the
action's form open and the reason — 400 for bad input, 403 for someone who may not, 409 for a
move the change's state or a blackout forbids — and nothing written.
"""

from collections import defaultdict

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views import generic

from changes import conflicts as conflict_checks
from changes.choices import (
    DONE_STATES,
    ChangeState,
    ChangeTimelineKind,
    ChangeType,
    ConflictKind,
    Decision,
    RiskLevel,
    StageState,
    review_required,
)
from changes.forms import (
    DecisionForm,
    IncidentLinkForm,
    NoteForm,
    RiskOverrideForm,
    TransitionForm,
)
from changes.models import ChangeApproval, ChangeRequest, ChangeTimelineEntry, RiskQuestion
from changes.services import approvals
from changes.services import changes as services
from changes.views.changes import ASSESSABLE_STATES, ChangeTabsMixin
from cmdb.models import CI
from incidents.models import Incident
from itom.api.exceptions import Conflict
from itom.forms import bootstrap_form
from itom.generic import ObjectActionView, ObjectTransitionView, PortalPermissionMixin, timeline_page
from itom.roles import is_manager

TIMELINE_PAGE_SIZE = 50
S = ChangeState

# The button each move gets: (label, style).
MOVE_LABELS = {
    S.ASSESS: ("Start assessment", "primary"),
    S.AUTHORIZE: ("Request approval", "primary"),
    S.SCHEDULED: ("Schedule", "primary"),
    S.IMPLEMENT: ("Start implementation", "primary"),
    S.REVIEW: ("Complete, to review", "success"),
    S.CLOSED: ("Close", "success"),
    S.NEW: ("Send back to new", "outline-secondary"),
    S.CANCELED: ("Cancel change", "outline-danger"),
}


def move_fields(change, state):
    """The fields a move's form shows (none: a one-click button)."""
    if state in (S.NEW, S.CANCELED):
        return ["note"]
    if state == S.REVIEW:
        return ["close_code", "close_notes", "note"]
    if state == S.CLOSED:
        if change.state == S.REVIEW:
            return ["close_code", "review_notes", "note"]
        return ["close_code", "close_notes", "note"]
    if state == S.SCHEDULED and change.type == ChangeType.EMERGENCY:
        return ["emergency_justification", "note"]
    return []


def move_initial(change, state):
    initial = {"state": state}
    if state == S.CLOSED and change.state == S.REVIEW:
        initial["close_code"] = change.close_code
    if state == S.SCHEDULED:
        initial["emergency_justification"] = change.emergency_justification
    return initial


def _state_label(value):
    return S(value).label if value in S.values else str(value or "—")


def timeline_summary(entry):
    """The line above a timeline entry's text: what happened, in words (the entry's ``data``)."""
    data = entry.data or {}
    if entry.kind == ChangeTimelineKind.STATE:
        if data.get("from") is None:
            return ""  # the opening line: its text says it
        return f"{_state_label(data.get('from'))} → {_state_label(data.get('to'))}"
    if entry.kind == ChangeTimelineKind.APPROVAL and data.get("decision") in Decision.values:
        return f"{Decision(data['decision']).label}: {data.get('stage_name', '')}".strip()
    if entry.kind == ChangeTimelineKind.RISK and data.get("level") in RiskLevel.values:
        return f"Risk {RiskLevel(data['level']).label.lower()}"
    return ""


IMPACTED_SHOWN = 50


def detail_queryset():
    return ChangeRequest.objects.select_related(
        "requester", "assignment_team", "assignee", "category", "template", "opened_by", "risk_overridden_by"
    ).prefetch_related(
        "affected_cis__ci_class",
        "impacted_services",
        # A change on a core switch may impact thousands of CIs: the page names the first ones.
        Prefetch(
            "impacted_cis",
            queryset=CI.objects.select_related("ci_class").order_by("name")[:IMPACTED_SHOWN],
            to_attr="impacted_shown",
        ),
    )


def approval_panel(change, user, can_change):
    """The current round's stages, each with its decisions and who decides it, and whether
    ``user`` may decide the pending one now (else why not, in words)."""
    stages = approvals.round_stages(change) if change.approval_round else []
    by_stage = defaultdict(list)
    for decision in ChangeApproval.objects.filter(stage__in=stages).select_related("approver").order_by("decided_at"):
        by_stage[decision.stage_id].append(decision)
    pending = None
    for stage in stages:
        stage.decision_list = by_stage[stage.pk]
        stage.approved_count = sum(1 for d in stage.decision_list if d.decision == Decision.APPROVED)
        stage.approvers_text = approvals.describe_approvers(stage, change)
        if stage.state == StageState.PENDING and pending is None:
            pending = stage
    may_decide, why_not = False, ""
    if pending is not None and change.state == S.AUTHORIZE:
        if not can_change:
            why_not = "Only approvers may decide."
        else:
            try:
                approvals.check_can_decide(pending, user, change)
                may_decide = True
            except PermissionDenied as exc:
                why_not = str(exc)
            except Conflict as exc:
                why_not = str(exc.detail)
    return {"stages": stages, "pending_stage": pending, "may_decide": may_decide, "why_not_decide": why_not}


def conflict_rows(change):
    """The change's scheduling conflicts (``changes.conflicts``), each with a link."""
    if change.state in DONE_STATES or not (change.planned_start and change.planned_end):
        return None  # nothing to check: no window, or over
    rows = []
    for conflict in conflict_checks.find_conflicts(change):
        url = ""
        if conflict.change_id:
            url = reverse("changes:change_detail", args=[conflict.change_id])
        elif conflict.blackout_id:
            url = reverse("changes:blackout_detail", args=[conflict.blackout_id])
        rows.append({"conflict": conflict, "url": url, "is_blackout": conflict.kind == ConflictKind.BLACKOUT})
    return rows


class ChangeDetailView(ChangeTabsMixin, PortalPermissionMixin, generic.DetailView):
    """The detail page. The action views render it again with their form bound and its errors
    when the service refuses (``ObjectActionView.render_detail``)."""

    model = ChangeRequest
    template_name = "changes/change_detail.html"

    def get_queryset(self):
        return detail_queryset()

    def get_context_data(self, **kwargs):
        change, user = self.object, self.request.user
        can_change = user.has_perm("changes.change_changerequest")
        is_done = change.state in DONE_STATES
        timeline = ChangeTimelineEntry.objects.filter(change=change).select_related("author")
        questions = RiskQuestion.objects.filter(active=True).count()
        conflicts = conflict_rows(change)
        kwargs.update(
            opts=ChangeRequest._meta,
            active_tab="details",
            timeline_page=timeline_page(self.request, timeline, timeline_summary, TIMELINE_PAGE_SIZE),
            linked_incidents=list(change.incidents.select_related("assignment_team", "assignee").order_by("number")),
            caused_incidents=list(change.caused_incidents.select_related("assignment_team").order_by("number")),
            conflicts=conflicts,
            has_blackout=any(row["is_blackout"] for row in conflicts or ()),
            risk_questions=questions,
            risk_answered=change.risk_answers.count(),
            impacted_more=max(0, change.impacted_cis.count() - IMPACTED_SHOWN)
            if len(change.impacted_shown) == IMPACTED_SHOWN
            else 0,
            review_needed=review_required(change.type, change.close_code),
            can_act=can_change and not is_done,
            **approval_panel(change, user, can_change),
        )
        if can_change and not is_done:
            self.add_action_forms(change, user, kwargs)
        return super().get_context_data(**kwargs)

    def add_action_forms(self, change, user, context):
        bound = context.setdefault("action_forms", {})
        moves = []
        for state in services.allowed_transitions(change):
            fields = move_fields(change, state)
            form = bound.get(state) or TransitionForm(initial=move_initial(change, state), auto_id=f"move_{state}_%s")
            label, style = MOVE_LABELS.get(state, (_state_label(state), "secondary"))
            moves.append(
                {
                    "state": state,
                    "label": label,
                    "style": style,
                    "form": bootstrap_form(form),
                    "fields": [form[name] for name in fields],
                    "needs_form": bool(fields),
                }
            )
        context["moves"] = moves
        context.setdefault("open_action", "")
        context.setdefault("note_form", bootstrap_form(NoteForm(auto_id="note_%s")))
        context.setdefault("link_form", bootstrap_form(IncidentLinkForm(auto_id="link_%s")))
        if context.get("may_decide"):
            context.setdefault("decision_form", bootstrap_form(DecisionForm(auto_id="decision_%s")))
        if (is_manager(user) or user.is_superuser) and change.state in ASSESSABLE_STATES:
            context.setdefault(
                "override_form",
                bootstrap_form(
                    RiskOverrideForm(
                        initial={"level": change.risk_override, "reason": change.risk_override_reason},
                        auto_id="override_%s",
                    )
                ),
            )
        context["can_answer_risk"] = change.state in ASSESSABLE_STATES


# --- actions ----------------------------------------------------------------------------------


class ChangeActionView(ObjectActionView):
    """A POST that changes one change through a service (``ObjectActionView``): a
    ``ValidationError`` goes on the form (400), a ``PermissionDenied`` (403) or a refused move or
    conflict (409) on top of it; either way the page comes back with the form open and nothing
    written."""

    model = ChangeRequest
    detail_view = ChangeDetailView

    def get(self, request, *args, **kwargs):
        return HttpResponseNotAllowed(["POST"])


class TransitionView(ObjectTransitionView, ChangeActionView):
    form_class = TransitionForm
    states = S.values

    def act(self, change, form):
        data = form.cleaned_data
        justification = data["emergency_justification"].strip() or None
        change = services.transition(
            change,
            data["state"],
            user=self.request.user,
            note=data["note"],
            close_code=data["close_code"],
            close_notes=data["close_notes"],
            review_notes=data["review_notes"],
            emergency_justification=justification,
        )
        change.refresh_from_db(fields=["state"])
        notice = f"{change.number} is now {change.get_state_display().lower()}."
        if data["state"] == S.AUTHORIZE and change.state == S.AUTHORIZE:
            notice = f"{change.number} awaits approval."
        return notice


class DecideView(ChangeActionView):
    """Approve or reject the pending stage. The service decides who may (403 with the reason)."""

    form_class = DecisionForm
    form_key = "decision_form"
    anchor = "#approvals"
    auto_id = "decision_%s"

    def act(self, change, form):
        data = form.cleaned_data
        approvals.decide(change, user=self.request.user, decision=data["decision"], comment=data["comment"])
        change.refresh_from_db(fields=["state"])
        verb = "approved" if data["decision"] == Decision.APPROVED else "rejected"
        return f"You {verb} {change.number}; it is now {change.get_state_display().lower()}."

    def overrides(self, form):
        return {**super().overrides(form), "decision_error": True}


class NoteView(ChangeActionView):
    form_class = NoteForm
    form_key = "note_form"
    anchor = "#timeline"
    auto_id = "note_%s"

    def act(self, change, form):
        services.add_note(change, user=self.request.user, body=form.cleaned_data["body"])
        return f"{change.number}: work note added."


class OverrideRiskView(ChangeActionView):
    form_class = RiskOverrideForm
    form_key = "override_form"
    anchor = "#risk"
    auto_id = "override_%s"

    def act(self, change, form):
        data = form.cleaned_data
        services.override_risk(change, user=self.request.user, level=data["level"], reason=data["reason"])
        if not data["level"]:
            return f"{change.number}: the computed risk level counts again."
        return f"{change.number}: risk overridden to {RiskLevel(data['level']).label.lower()}."


class LinkIncidentView(ChangeActionView):
    form_class = IncidentLinkForm
    form_key = "link_form"
    anchor = "#incidents"
    auto_id = "link_%s"

    def act(self, change, form):
        incident, relation = form.cleaned_data["incident"], form.cleaned_data["relation"]
        if relation == IncidentLinkForm.CAUSED:
            services.mark_cause(change, incident, user=self.request.user, caused=True)
            return f"{change.number} is marked as the cause of {incident.number}."
        services.link_incident(change, incident, user=self.request.user)
        return f"{incident.number} is linked to {change.number} and waits for it."


class UnlinkIncidentView(ChangeActionView):
    """POST ``relation=fixes`` (default) unlinks an incident waiting for the change;
    ``relation=caused`` takes back "caused by this change"."""

    anchor = "#incidents"

    def act(self, change, form, incident_pk):
        incident = get_object_or_404(Incident, pk=incident_pk)
        if self.request.POST.get("relation") == IncidentLinkForm.CAUSED:
            services.mark_cause(change, incident, user=self.request.user, caused=False)
            return f"{change.number} is no longer marked as the cause of {incident.number}."
        services.unlink_incident(change, incident, user=self.request.user)
        return f"{incident.number} is unlinked from {change.number}."
