"""The standard-change template catalogue (approved templates with "Use"; drafts and retired
versions on their own tabs), a template's page (its fields, its versions, the changes made from
it, and the actions its state allows: edit a draft, approve it, revise, retire), the draft form
and the History tab.

Writes go through ``changes.services.templates``: agents create and edit drafts and start
revisions; managers approve (never their own draft) and retire — the service says no (403) to
anyone else, and the page says why.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseNotAllowed
from django.shortcuts import render
from django.urls import reverse
from django.views import generic

from changes.choices import TemplateState
from changes.filters import TemplateFilterSet
from changes.forms import TemplateForm
from changes.models import ChangeRequest, StandardChangeTemplate
from changes.services import templates as services
from itom.api.exceptions import Conflict
from itom.generic import (
    Column,
    ObjectActionView,
    ObjectEditView,
    ObjectHistoryView,
    ObjectListView,
    PortalPermissionMixin,
    refusal_reason,
)
from itom.roles import is_manager

T = TemplateState
TABS = [(T.APPROVED, "Catalogue"), (T.DRAFT, "Drafts"), (T.RETIRED, "Retired"), ("", "All versions")]
CHANGES_SHOWN = 20  # changes made from a template listed on its page


def template_actions(template, user):
    """What ``user`` may do with ``template`` now (the service has the last word)."""
    manager = is_manager(user) or user.is_superuser
    return {
        "can_use": template.state == T.APPROVED and user.has_perm("changes.add_changerequest"),
        "can_edit": template.state == T.DRAFT and user.has_perm("changes.change_standardchangetemplate"),
        "can_approve": template.state == T.DRAFT and manager and template.author_id != user.pk,
        "own_draft": template.state == T.DRAFT and manager and template.author_id == user.pk,
        "can_revise": template.state == T.APPROVED and user.has_perm("changes.add_standardchangetemplate"),
        "can_retire": template.state != T.RETIRED and manager,
    }


class TemplateListView(ObjectListView):
    model = StandardChangeTemplate
    filterset_class = TemplateFilterSet
    template_name = "changes/template_list.html"
    partial_template_name = "changes/template_list_table.html"
    shown_filters = ("q", "risk_level", "assignment_team")
    default_filters = {"state": T.APPROVED}
    columns = [
        Column("name", link=True),
        Column("version"),
        Column("state"),
        Column("risk_level", label="Risk"),
        Column("assignment_team", label="Team", sort="assignment_team__name"),
        Column("category", sort="category__name"),
        Column("updated_at", label="Updated"),
    ]

    def get_base_queryset(self):
        return StandardChangeTemplate.objects.select_related("assignment_team", "category")

    def get_add_url(self):
        return reverse("changes:template_add")

    def get_filterset(self):
        filterset = super().get_filterset()
        filterset.form.fields["risk_level"].widget.attrs["size"] = 3
        filterset.form.fields["assignment_team"].widget.attrs["size"] = 3
        return filterset

    def get_context_data(self, **kwargs):
        current = self.request.GET.get("state", T.APPROVED)
        kwargs.update(
            title="Standard change templates",
            tabs=[(key, label, key == current) for key, label in TABS],
            can_use=self.request.user.has_perm("changes.add_changerequest"),
        )
        return super().get_context_data(**kwargs)


class TemplateTabsMixin:
    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(opts=StandardChangeTemplate._meta, **template_actions(self.object, self.request.user))
        return context


class TemplateDetailView(TemplateTabsMixin, PortalPermissionMixin, generic.DetailView):
    model = StandardChangeTemplate
    template_name = "changes/template_detail.html"

    def get_queryset(self):
        return StandardChangeTemplate.objects.select_related(
            "assignment_team", "category", "author", "approved_by"
        ).prefetch_related("ci_classes")

    def get_context_data(self, **kwargs):
        template = self.object
        changes = ChangeRequest.objects.filter(template=template).select_related("assignee").order_by("-created_at")
        kwargs.update(
            active_tab="details",
            versions=list(
                StandardChangeTemplate.objects.filter(key=template.key)
                .select_related("approved_by")
                .order_by("-version")
            ),
            changes=list(changes[:CHANGES_SHOWN]),
            change_count=changes.count(),
        )
        return super().get_context_data(**kwargs)


class TemplateEditView(ObjectEditView):
    """Create a draft, or edit one (an approved or retired version is revised, not edited)."""

    model = StandardChangeTemplate
    form_class = TemplateForm
    template_name = "changes/template_form.html"

    def locked_reason(self, template):
        if template.state != T.DRAFT:
            return f"{template} is {template.get_state_display().lower()}: revise it instead."
        return None

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs.pop("instance", None)
        kwargs["template"] = self.object
        return kwargs

    def save_form(self, form):
        user = self.request.user
        try:
            if self.object is None:
                return services.create_template(user=user, **form.service_fields())
            changed = form.service_fields(changed_only=True)
            if not changed:
                return self.object
            return services.update_template(self.object, user=user, **changed)
        except Conflict as exc:
            raise ValidationError(str(exc.detail)) from None

    def get_success_url(self):
        return self.object.get_absolute_url()


class TemplateActionView(ObjectActionView):
    """POST approve / revise / retire (``ObjectActionView``, without a form). A refusal by the
    state (409) is said on top of the page; someone who may not (a non-manager, the draft's
    author approving it) gets a 403 with the reason. ``act`` sets ``target``, the version shown
    next."""

    model = StandardChangeTemplate
    permission_action = "view"  # the service decides who may (managers approve and retire)
    refusals = (PermissionDenied, Conflict, ValidationError)

    def get(self, request, *args, **kwargs):
        return HttpResponseNotAllowed(["POST"])

    def refused(self, template, form, exc):
        if isinstance(exc, PermissionDenied):
            messages.error(self.request, refusal_reason(exc))
            return render(self.request, "403.html", status=403)
        return super().refused(template, form, exc)

    def get_success_url(self, template):
        return self.target.get_absolute_url()


class TemplateApproveView(TemplateActionView):
    def act(self, template, form):
        self.target = services.approve_template(template, user=self.request.user)
        return f"{self.target} is approved: it is in the catalogue."


class TemplateReviseView(TemplateActionView):
    permission_action = "add"

    def act(self, template, form):
        self.target = services.revise_template(template, user=self.request.user)
        return f"Draft {self.target} started: edit it, then a manager approves it."


class TemplateRetireView(TemplateActionView):
    def act(self, template, form):
        self.target = services.retire_template(template, user=self.request.user)
        return f"{self.target} is retired: it is no longer in the catalogue."


class TemplateHistoryView(TemplateTabsMixin, ObjectHistoryView):
    model = StandardChangeTemplate
    template_name = "changes/template_history.html"
