"""The problem and known-error pages: the problem list (quick views, filters, CSV), the problem
page (linked incidents, known errors, timeline, and the actions its state allows: move, post a
workaround, link and unlink incidents, record a known error, add a note), add/edit, delete and
history; the known-error list (search over symptom, root cause and workaround), page, add/edit,
delete and history; and "Create problem" from incidents ticked in the incident queue.

Every write goes through ``incidents.services.problems``. Viewers see the pages without the
write controls; a write without the permission answers 403.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.db.models.functions import Substr
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views import View
from rest_framework.exceptions import APIException

from cmdb.models import CI
from incidents.choices import OPEN_PROBLEM_STATES, OPEN_STATES, ProblemState, ProblemTimelineKind
from incidents.filters.problems import KnownErrorFilterSet, ProblemFilterSet, with_incident_count
from incidents.forms.problems import (
    KnownErrorForm,
    LinkIncidentsForm,
    ProblemForm,
    ProblemNoteForm,
    ProblemTransitionForm,
    WorkaroundForm,
)
from incidents.models import Incident, KnownError, Problem
from incidents.services import problems as services
from itom.forms import bootstrap_form
from itom.generic import (
    Column,
    ObjectActionView,
    ObjectDeleteView,
    ObjectDetailView,
    ObjectEditView,
    ObjectHistoryView,
    ObjectListView,
    PortalPermissionMixin,
    refusal_reason,
)

INCIDENTS_SHOWN = 100  # linked incidents listed on the problem page (the API pages through all)
TIMELINE_SHOWN = 200  # newest timeline entries on the problem page
_NOT_FILTERS = {"sort", "page", "per_page", "export"}


def register():
    """Navigation ("Problems", highlighted on every /problems/ page) and the CI page's related
    objects: the open problems and the active known errors affecting a CI."""
    from cmdb import related
    from itom import navigation

    navigation.register(
        navigation.MenuItem(
            "Problems", "incidents:problem_list", permission="incidents.view_problem", section="/problems/"
        )
    )
    related.register(
        related.RelatedObjects(
            key="problems",
            title="Open problems",
            permission="incidents.view_problem",
            queryset=lambda ci: Problem.objects.filter(affected_cis=ci, state__in=OPEN_PROBLEM_STATES).order_by(
                "priority", "-created_at"
            ),
            list_url=lambda ci: f"{reverse('incidents:problem_list')}?{urlencode({'ci': ci.pk, 'open': 'true'})}",
            order=20,
        )
    )
    related.register(
        related.RelatedObjects(
            key="known_errors",
            title="Known errors",
            permission="incidents.view_knownerror",
            queryset=lambda ci: KnownError.objects.filter(affected_cis=ci, active=True).order_by("-created_at"),
            list_url=lambda ci: f"{reverse('incidents:known_error_list')}?{urlencode({'ci': ci.pk, 'active': 'true'})}",
            order=30,
        )
    )


def page_tabs(obj, user, prefix):
    """The header and tabs of a problem's or known error's pages (``problem_tabs.html``): their
    URLs (``incidents:<prefix>_detail`` …) and whether the user may edit (not a closed problem)
    or delete."""
    model = obj._meta.model_name
    closed = getattr(obj, "state", None) == ProblemState.CLOSED
    return {
        "list_url": reverse(f"incidents:{prefix}_list"),
        **{
            f"{name}_url": reverse(f"incidents:{prefix}_{name}", args=[obj.pk])
            for name in ("detail", "edit", "delete", "history")
        },
        "can_edit": user.has_perm(f"incidents.change_{model}") and not closed,
        "can_delete": user.has_perm(f"incidents.delete_{model}"),
    }


def _quick_views(request, base, views):
    """``[(label, url, active)]``: a view is active when the list's filters are exactly its own."""
    query = request.GET
    current = {key: sorted(v for v in query.getlist(key) if v) for key in query if key not in _NOT_FILTERS}
    current = {key: values for key, values in current.items() if values}
    shown = []
    for label, params in views:
        wanted = {key: sorted(values) for key, values in params.items()}
        url = f"{base}?{urlencode(params, doseq=True)}" if params else base
        shown.append((label, url, current == wanted))
    return shown


# --- Problem list -----------------------------------------------------------------------------


class ProblemListView(ObjectListView):
    model = Problem
    queryset = Problem.objects.select_related("assignment_team", "assignee")
    filterset_class = ProblemFilterSet
    template_name = "incidents/problem_list.html"
    columns = [
        Column("number", link=True),
        Column("title"),
        Column("state"),
        Column("priority"),
        Column("assignment_team", label="Team", sort="assignment_team__name"),
        Column("assignee", sort="assignee__username"),
        Column("incident_count", label="Incidents", sort="incident_count"),
        Column("updated_at", label="Updated"),
    ]
    shown_filters = ("q", "state", "open", "priority", "assignment_team")

    def get_base_queryset(self):
        return with_incident_count(super().get_base_queryset())

    def get_filterset(self):
        filterset = super().get_filterset()
        filterset.form.fields["state"].widget.attrs["size"] = 3
        filterset.form.fields["priority"].widget.attrs["size"] = 3
        filterset.form.fields["assignment_team"].widget.attrs["size"] = 3
        return filterset

    def get_context_data(self, **kwargs):
        user = self.request.user
        base = reverse("incidents:problem_list")
        views = [
            ("All", {}),
            ("Open", {"open": ["true"]}),
            ("Assigned to me", {"assignee": [str(user.pk)], "open": ["true"]}),
            ("Resolved", {"state": [ProblemState.RESOLVED]}),
        ]
        kwargs.setdefault("quick_views", _quick_views(self.request, base, views))
        return super().get_context_data(**kwargs)


# --- Problem page -----------------------------------------------------------------------------


class ProblemDetailView(ObjectDetailView):
    model = Problem
    queryset = Problem.objects.select_related("category", "assignment_team", "assignee", "opened_by")
    template_name = "incidents/problem_detail.html"
    fields = [
        "category",
        ("Team", "assignment_team"),
        "assignee",
        ("Opened by", "opened_by"),
        "resolved_at",
        "closed_at",
    ]

    def get_template_names(self):
        return [self.template_name]

    def get_context_data(self, **kwargs):
        kwargs.update(problem_page_context(self.request, self.object, kwargs.pop("forms", {})))
        kwargs["tabs"] = page_tabs(self.object, self.request.user, "problem")
        return super().get_context_data(**kwargs)


def problem_page_context(request, problem, bound=None):
    """What the problem page shows: the linked incidents, known errors, timeline and the forms
    of the actions the user may take in the problem's state (``bound`` forms keep their input
    and errors after a refused action)."""
    bound = bound or {}
    user = request.user
    can_change = user.has_perm("incidents.change_problem")
    is_closed = problem.state == ProblemState.CLOSED
    incidents = problem.incidents.select_related("assignee", "assignment_team").order_by(
        "priority", "-created_at", "pk"
    )
    shown_incidents = list(incidents[:INCIDENTS_SHOWN])
    incident_count = len(shown_incidents) if len(shown_incidents) < INCIDENTS_SHOWN else incidents.count()
    timeline = list(problem.timeline.select_related("author").order_by("-time", "-pk")[:TIMELINE_SHOWN])
    timeline.reverse()
    for entry in timeline:
        entry.summary, entry.shows_body = timeline_summary(entry)
    known_errors = list(problem.known_errors.order_by("-active", "-created_at"))
    can_link = can_change and user.has_perm("incidents.change_incident") and not is_closed
    forms = {}
    if can_change and services.allowed_problem_transitions(problem):
        forms["transition_form"] = bound.get("transition") or ProblemTransitionForm(problem=problem)
    if can_change and not is_closed:
        forms["workaround_form"] = bound.get("workaround") or WorkaroundForm(problem=problem)
        forms["note_form"] = bound.get("note") or ProblemNoteForm()
    if can_link:
        forms["link_form"] = bound.get("link") or LinkIncidentsForm()
    for form in forms.values():
        bootstrap_form(form)
    has_active_known_error = any(ke.active for ke in known_errors)
    return {
        "linked_incidents": shown_incidents,
        "incident_count": incident_count,
        "incidents_hidden": max(0, incident_count - len(shown_incidents)),
        "affected_cis": list(problem.affected_cis.select_related("ci_class").order_by("name")),
        "known_errors": known_errors,
        "timeline": timeline,
        "can_change": can_change and not is_closed,
        "can_unlink": can_link,
        "can_record_known_error": (
            user.has_perm("incidents.add_knownerror") and can_change and not has_active_known_error
        ),
        "known_error_needs_root_cause": not problem.root_cause.strip(),
        **forms,
    }


def timeline_summary(entry):
    """``(what happened in a few words, whether the entry's body is worth showing)``."""
    data, kind, labels = entry.data or {}, entry.kind, dict(ProblemState.choices)
    if kind == ProblemTimelineKind.STATE:
        return f"{labels.get(data.get('from'), data.get('from'))} → {labels.get(data.get('to'), data.get('to'))}", True
    if kind == ProblemTimelineKind.LINK:
        return f"Linked {', '.join(data.get('incidents', [])) or entry.body}", False
    if kind == ProblemTimelineKind.UNLINK:
        return f"Unlinked {', '.join(data.get('incidents', [])) or entry.body}", False
    if kind == ProblemTimelineKind.WORKAROUND:
        count = len(data.get("incidents", []))
        return f"Workaround posted, sent to {count} open incident{'s' if count != 1 else ''}", True
    if kind == ProblemTimelineKind.KNOWN_ERROR:
        return f"Recorded as known error {data.get('number', '')}".strip(), False
    return "Note", True


class ProblemActionView(ObjectActionView):
    """A POST action of the problem page (``ObjectActionView``). On success: a message and back to
    the page; on a refusal: the page again (400) with the form, its input and the reason."""

    model = Problem
    detail_view = ProblemDetailView
    refusals = (ValidationError, APIException)
    extra_permissions = ()

    def has_permission(self):
        return super().has_permission() and all(self.request.user.has_perm(p) for p in self.extra_permissions)

    def get(self, request, *args, **kwargs):
        return HttpResponseNotAllowed(["POST"])

    def overrides(self, form):
        return {"forms": {self.form_key: form}}

    def refusal_status(self, exc):
        return 400


class ProblemTransitionView(ProblemActionView):
    form_key = "transition"

    def get_form(self, problem):
        return ProblemTransitionForm(self.request.POST, problem=problem)

    def act(self, problem, form):
        problem = services.transition_problem(
            problem, form.cleaned_data["state"], user=self.request.user, note=form.cleaned_data["note"]
        )
        return f"{problem.number} is now {problem.get_state_display().lower()}."


class ProblemWorkaroundView(ProblemActionView):
    form_class = WorkaroundForm
    form_key = "workaround"

    def act(self, problem, form):
        problem = services.post_workaround(problem, user=self.request.user, workaround=form.cleaned_data["workaround"])
        count = Incident.objects.filter(problem=problem, state__in=OPEN_STATES).count()
        return f"Workaround posted on {problem.number} and sent to {count} open incident{'s' if count != 1 else ''}."


class ProblemLinkIncidentsView(ProblemActionView):
    form_class = LinkIncidentsForm
    form_key = "link"
    extra_permissions = ("incidents.change_incident",)

    def act(self, problem, form):
        linked = services.link_incidents(problem, form.cleaned_data["incidents"], user=self.request.user)
        if not linked:
            return "Those incidents were already linked."
        return f"Linked {', '.join(incident.number for incident in linked)} to {problem.number}."


class ProblemUnlinkIncidentView(ProblemActionView):
    extra_permissions = ("incidents.change_incident",)

    def act(self, problem, form, incident_pk):
        incident = get_object_or_404(Incident, pk=incident_pk)
        services.unlink_incident(problem, incident, user=self.request.user)
        return f"Unlinked {incident.number} from {problem.number}."


class ProblemNoteView(ProblemActionView):
    form_class = ProblemNoteForm
    form_key = "note"

    def act(self, problem, form):
        services.add_problem_note(problem, user=self.request.user, body=form.cleaned_data["body"])
        return "Note added."


class ProblemKnownErrorView(ProblemActionView):
    extra_permissions = ("incidents.add_knownerror",)

    def act(self, problem, form):
        self.known_error = services.known_error_from_problem(problem, user=self.request.user)
        return f"Recorded known error {self.known_error.number}."

    def get_success_url(self, problem):
        return self.known_error.get_absolute_url()


class ProblemFromIncidentsView(PortalPermissionMixin, View):
    """POST (the incident queue's bulk bar): open a problem for the ticked incidents — ids in
    ``ids`` (or ``bulk-ids``, ``incidents``), an optional ``title`` — and show it; on a refusal,
    back to the page the request came from (``next``) with the reason."""

    model = Problem
    permission_action = "add"

    def has_permission(self):
        return super().has_permission() and self.request.user.has_perm("incidents.change_incident")

    def get(self, request):
        return HttpResponseNotAllowed(["POST"])

    def post(self, request):
        data = request.POST
        refs = data.getlist("ids") + data.getlist("bulk-ids") + data.getlist("incidents")
        try:
            with transaction.atomic():
                problem = services.problem_from_incidents(
                    services.resolve_incident_refs(refs), user=request.user, title=data.get("title")
                )
        except ValidationError as exc:
            messages.error(request, f"No problem was created: {refusal_reason(exc)}")
            return redirect(self.back_url())
        count = problem.incidents.count()
        messages.success(
            request, f"Created {problem.number} from {count} incident{'s' if count != 1 else ''}. Check its title."
        )
        return redirect(problem.get_absolute_url())

    def back_url(self):
        for candidate in (self.request.POST.get("next"), self.request.POST.get("bulk-next")):
            if candidate and url_has_allowed_host_and_scheme(
                candidate, allowed_hosts={self.request.get_host()}, require_https=self.request.is_secure()
            ):
                return candidate
        return reverse("incidents:incident_list")


# --- Problem add / edit / delete / history ----------------------------------------------------


class ProblemEditView(ObjectEditView):
    model = Problem
    form_class = ProblemForm
    template_name = "incidents/problem_form.html"

    locked_level = messages.INFO

    def locked_reason(self, problem):
        if problem.state == ProblemState.CLOSED:
            return f"{problem.number} is closed: it can no longer be edited."
        return None

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except APIException as exc:  # e.g. a closed problem (409)
            form.add_error(None, str(exc.detail))
            return self.form_invalid(form)

    def save_form(self, form):
        fields = form.service_fields()
        if self.object is None:
            return services.create_problem(user=self.request.user, **fields)
        return services.update_problem(self.object, user=self.request.user, **fields)


class ProblemDeleteView(ObjectDeleteView):
    model = Problem

    def delete_object(self, obj):
        services.delete_problem(obj, user=self.request.user)


class ProblemHistoryView(ObjectHistoryView):
    model = Problem
    template_name = "incidents/problem_history.html"

    def get_context_data(self, **kwargs):
        kwargs["tabs"] = page_tabs(self.object, self.request.user, "problem")
        return super().get_context_data(**kwargs)


# --- Known errors -----------------------------------------------------------------------------


class KnownErrorListView(ObjectListView):
    model = KnownError
    queryset = KnownError.objects.select_related("problem").annotate(symptom_start=Substr("symptom", 1, 160))
    filterset_class = KnownErrorFilterSet
    template_name = "incidents/known_error_list.html"
    columns = [
        Column("number", link=True),
        Column("title"),
        Column("symptom_start", label="Symptom", sortable=False),
        Column("problem", sort="problem__number"),
        Column("active"),
        Column("updated_at", label="Updated"),
    ]

    def get_filterset(self):
        filterset = super().get_filterset()
        for name, field in filterset.form.fields.items():
            if name not in ("q", "active"):
                field.widget = forms.HiddenInput()
        filterset.form.fields["q"].widget.attrs["placeholder"] = "Words of the symptom, cause or workaround"
        return filterset

    def get_add_url(self):
        return reverse("incidents:known_error_add")

    def get_context_data(self, **kwargs):
        base = reverse("incidents:known_error_list")
        views = [("All", {}), ("Active", {"active": ["true"]}), ("Retired", {"active": ["false"]})]
        kwargs.setdefault("quick_views", _quick_views(self.request, base, views))
        kwargs.setdefault("title", "Known errors")
        return super().get_context_data(**kwargs)


class KnownErrorDetailView(ObjectDetailView):
    model = KnownError
    queryset = KnownError.objects.select_related("problem").prefetch_related(
        Prefetch("affected_cis", queryset=CI.objects.select_related("ci_class").order_by("name"))
    )
    template_name = "incidents/known_error_detail.html"

    def get_template_names(self):
        return [self.template_name]

    def get_context_data(self, **kwargs):
        kwargs["tabs"] = page_tabs(self.object, self.request.user, "known_error")
        return super().get_context_data(**kwargs)


class KnownErrorEditView(ObjectEditView):
    model = KnownError
    form_class = KnownErrorForm
    template_name = "incidents/known_error_form.html"

    def save_form(self, form):
        fields = form.service_fields()
        if self.object is None:
            return services.create_known_error(user=self.request.user, **fields)
        return services.update_known_error(self.object, user=self.request.user, **fields)

    def get_initial(self):
        initial = super().get_initial()
        problem = self.request.GET.get("problem", "")
        if self.object is None and problem.isdigit():
            source = Problem.objects.filter(pk=problem).first()
            if source is not None:
                initial.update(
                    problem=source.number,
                    title=source.title,
                    symptom=source.description,
                    root_cause=source.root_cause,
                    workaround=source.workaround,
                )
        return initial


class KnownErrorDeleteView(ObjectDeleteView):
    model = KnownError

    def delete_object(self, obj):
        services.delete_known_error(obj, user=self.request.user)

    def get_success_url(self):
        return reverse("incidents:known_error_list")


class KnownErrorHistoryView(ObjectHistoryView):
    model = KnownError
    template_name = "incidents/known_error_history.html"

    def get_context_data(self, **kwargs):
        kwargs["tabs"] = page_tabs(self.object, self.request.user, "known_error")
        return super().get_context_data(**kwargs)
