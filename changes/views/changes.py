"""The change list (tabs My changes / My team's / Awaiting my approval / Scheduled / All open /
All, filters, search, sort, pages, CSV), the change form (new, from a standard-change template,
requested from an incident; edit), the risk questionnaire and the History tab.

Every write goes through ``changes.services.changes``. Viewers see the pages without write
controls; writes need ``changes.add_changerequest`` / ``changes.change_changerequest`` (agents,
approvers and managers) and answer 403 otherwise.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, IntegerField, Q, Value, When
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import generic

from changes.choices import DONE_STATES, ChangeState, ChangeType, RiskLevel, TemplateState
from changes.filters import QUEUES, ChangeFilterSet
from changes.forms import ChangeForm, RiskAnswersForm
from changes.models import ChangeRequest, RiskQuestion, StandardChangeTemplate
from changes.services import changes as services
from incidents.choices import OPEN_STATES as INCIDENT_OPEN_STATES
from incidents.models import Incident
from itom.api.exceptions import Conflict
from itom.forms import bootstrap_form, errors_to_form
from itom.generic import Column, ObjectEditView, ObjectHistoryView, PortalPermissionMixin, QueueListView

DEFAULT_QUEUE = "open"
# The filters the list shows; the filterset's others (requester, ci, template, planned ranges…)
# still work from a link, carried along as hidden fields.
SHOWN_FILTERS = ["q", "state", "type", "risk", "assignment_team"]
# States in which the risk questionnaire may still be answered (the service's rule too).
ASSESSABLE_STATES = (ChangeState.NEW, ChangeState.ASSESS)
RISK_ORDER = {level: rank for rank, level in enumerate(RiskLevel.values, start=1)}


def effective_risk_rank():
    """The effective risk level (the override, else the computed one) as a sortable number."""
    whens = []
    for level, rank in RISK_ORDER.items():
        whens.append(When(Q(risk_override=level) | Q(risk_override="", risk_level=level), then=Value(rank)))
    return Case(*whens, default=Value(0), output_field=IntegerField())


class RiskColumn(Column):
    def value(self, obj):
        level = obj.effective_risk
        return RiskLevel(level).label if level in RiskLevel.values else level


class ChangeTabsMixin:
    """What every tab of a change shares: its header (``changes/change_header.html``)."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        change, user = self.object, self.request.user
        context["can_edit"] = user.has_perm("changes.change_changerequest") and change.state not in DONE_STATES
        context["can_delete"] = False  # changes are canceled, never deleted
        return context


# --- the list ---------------------------------------------------------------------------------


class ChangeListView(QueueListView):
    model = ChangeRequest
    filterset_class = ChangeFilterSet
    template_name = "changes/change_list.html"
    partial_template_name = "changes/change_list_table.html"
    shown_filters = SHOWN_FILTERS
    queue_tabs = QUEUES
    default_queue = DEFAULT_QUEUE
    paginate_by = 25
    columns = [
        Column("number", link=True),
        Column("title"),
        Column("type"),
        Column("state"),
        RiskColumn("effective_risk", label="Risk", sort="risk_rank"),
        Column("assignment_team", label="Team", sort="assignment_team__name"),
        Column("assignee", sort="assignee__username"),
        Column("planned_start", label="Planned start"),
        Column("updated_at", label="Updated"),
    ]

    def get_base_queryset(self):
        return ChangeRequest.objects.select_related("assignment_team", "assignee").annotate(
            risk_rank=effective_risk_rank()
        )

    def get_add_url(self):
        return reverse("changes:change_add")

    def get_filterset(self):
        """The current tab is the filterset's ``queue`` (All open when the URL names none); the
        page shows the common filters (``SHOWN_FILTERS``), each a short list, and carries the
        others along as hidden fields."""
        filterset = super().get_filterset()
        for name in ("state", "type", "risk", "assignment_team"):
            filterset.form.fields[name].widget.attrs["size"] = 3
        return filterset

    def get_context_data(self, **kwargs):
        kwargs.update(title="Changes")
        return super().get_context_data(**kwargs)


# --- new / edit -------------------------------------------------------------------------------


def incident_defaults(incident):
    """The form's initial values for a change requested from ``incident``: the service's
    defaults (``incident_change_defaults``), and the incident to link."""
    defaults = services.incident_change_defaults(incident)
    team = defaults["assignment_team"]
    return {**defaults, "assignment_team": team.pk if team else None, "incident": incident.pk}


def template_defaults(template):
    return {
        "title": template.name,
        "description": template.description,
        "assignment_team": template.assignment_team_id,
        "category": template.category_id,
        "template": template.pk,
    }


class ChangeEditView(ObjectEditView):
    """New change (``?template=<id>``: a standard change from an approved template;
    ``?incident=<id>``: "Request change" from an open incident, linked to it) and edit."""

    model = ChangeRequest
    form_class = ChangeForm
    template_name = "changes/change_form.html"

    def get_queryset(self):
        return ChangeRequest.objects.select_related("template", "assignment_team").prefetch_related("affected_cis")

    def dispatch(self, request, *args, **kwargs):
        self.template = self.incident = None
        if not request.user.is_authenticated or not self.has_permission():
            return self.handle_no_permission()
        if "pk" not in kwargs:
            source = request.POST if request.method == "POST" else request.GET
            template_ref, incident_ref = source.get("template", ""), source.get("incident", "")
            if template_ref:
                self.template = StandardChangeTemplate.objects.filter(
                    pk=template_ref if template_ref.isdigit() else None, state=TemplateState.APPROVED
                ).first()
                if self.template is None:
                    messages.error(request, "That template is not in the catalogue (not approved, or retired).")
                    return redirect("changes:template_list")
            elif incident_ref:
                self.incident = (
                    Incident.objects.filter(pk=incident_ref if incident_ref.isdigit() else None)
                    .prefetch_related("affected_cis")
                    .first()
                )
                if self.incident is None:
                    messages.error(request, "That incident does not exist.")
                    return redirect("changes:change_list")
                if self.incident.state not in INCIDENT_OPEN_STATES:
                    state = self.incident.get_state_display().lower()
                    messages.error(request, f"{self.incident.number} is {state}: a change can't be requested for it.")
                    return redirect(self.incident.get_absolute_url())
        return super().dispatch(request, *args, **kwargs)

    def locked_reason(self, change):
        if change.state in DONE_STATES:
            return f"{change.number} is {change.get_state_display().lower()}: it can no longer be edited."
        return None

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs.pop("instance", None)
        kwargs["change"] = self.object
        kwargs["template"] = self.template
        return kwargs

    def get_initial(self):
        initial = super().get_initial()
        if self.object is None:
            if self.template is not None:
                initial.update(template_defaults(self.template))
            elif self.incident is not None:
                initial.update(incident_defaults(self.incident))
        return initial

    def save_form(self, form):
        try:
            return self._save(form)
        except Conflict as exc:  # e.g. closed or canceled meanwhile: said on top of the form
            raise ValidationError(str(exc.detail)) from None

    def _save(self, form):
        data, user = form.cleaned_data, self.request.user
        if self.object is None:
            fields = form.create_fields()
            if self.template is not None:
                return services.create_change(
                    user=user, title=data["title"], type=ChangeType.STANDARD, template=self.template, **fields
                )
            if data.get("incident") is not None:
                return services.request_change_for_incident(
                    data["incident"], user=user, title=data["title"], type=data["type"], **fields
                )
            return services.create_change(user=user, title=data["title"], type=data["type"], **fields)
        change, round_before = self.object, self.object.approval_round
        changed = form.changed_fields()
        if not changed:
            return change
        change = services.update_change(change, user=user, **changed)
        change.refresh_from_db()
        if change.approval_round > round_before:
            self.approvals_restarted = True
        return change

    def form_valid(self, form):
        self.approvals_restarted = False
        response = super().form_valid(form)
        if self.approvals_restarted:
            messages.warning(self.request, "The plans, schedule or CIs changed: the approvals start again.")
        return response

    def get_success_url(self):
        return self.object.get_absolute_url()

    def get_context_data(self, **kwargs):
        form = kwargs.get("form") or self.get_form()
        kwargs.setdefault("chosen_cis", form.chosen_cis())
        kwargs["source_template"] = self.template if self.object is None else getattr(self.object, "template", None)
        kwargs["source_incident"] = self.incident
        return super().get_context_data(**kwargs)


# --- the risk questionnaire -------------------------------------------------------------------


class ChangeRiskView(ChangeTabsMixin, PortalPermissionMixin, generic.DetailView):
    """``/changes/<id>/risk/``: one radio group per active question; saving recomputes the score
    (``set_risk_answers``). Answerable while the change is new or being assessed."""

    model = ChangeRequest
    template_name = "changes/change_risk.html"

    def get_queryset(self):
        return ChangeRequest.objects.select_related("assignment_team", "assignee").prefetch_related("risk_answers")

    def get_context_data(self, **kwargs):
        change, user = self.object, self.request.user
        form = kwargs.pop("form", None) or RiskAnswersForm(change=change, questions=_questions())
        bootstrap_form(form)
        kwargs.update(
            opts=ChangeRequest._meta,
            active_tab="risk",
            form=form,
            can_answer=user.has_perm("changes.change_changerequest") and change.state in ASSESSABLE_STATES,
            risk_questions=len(form.questions),
            risk_answered=len(change.risk_answers.all()),
        )
        return super().get_context_data(**kwargs)

    def post(self, request, pk):
        if not request.user.has_perm("changes.change_changerequest"):
            raise PermissionDenied
        self.object = change = self.get_object()
        form = RiskAnswersForm(request.POST, change=change, questions=_questions())
        status = 400
        if form.is_valid():
            try:
                with transaction.atomic():
                    services.set_risk_answers(change, user=request.user, option_ids=form.option_ids())
            except ValidationError as exc:
                errors_to_form(form, exc, {"option_ids": None, "risk_answers": None})
            except Conflict as exc:
                form.add_error(None, str(exc.detail))
                status = 409
            else:
                change.refresh_from_db()
                level = RiskLevel(change.risk_level).label.lower()
                messages.success(request, f"Risk of {change.number}: score {change.risk_score}, {level}.")
                return redirect(change.get_absolute_url() + "#risk")
        context = self.get_context_data(object=change, form=form)
        return render(request, self.template_name, context, status=status)


def _questions():
    return RiskQuestion.objects.filter(active=True).prefetch_related("options").order_by("order", "pk")


# --- History ----------------------------------------------------------------------------------


class ChangeHistoryView(ChangeTabsMixin, ObjectHistoryView):
    model = ChangeRequest
    queryset = ChangeRequest.objects.select_related("assignment_team", "assignee")
    template_name = "changes/change_history.html"
