"""Incidents, problems, known errors, categories and the priority matrix in the admin console
(managers).

Writes go through the services like everywhere else. An add or change form runs the service as
the last step of its validation (in a savepoint): an error it raises — an assignee outside the
team, a retired category — shows on the form like any other, and nothing is written. States
change only through the services' transitions (the pages and the API), so the admin shows
them read-only. The timeline and attachments are shown read-only under the incident.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from rest_framework.exceptions import APIException

from incidents.choices import DEFAULT_PRIORITY_MATRIX
from incidents.models import (
    Attachment,
    Category,
    Incident,
    KnownError,
    PriorityRule,
    Problem,
    ProblemTimelineEntry,
    TimelineEntry,
)
from incidents.services import incidents as incident_services


class ServiceForm(forms.ModelForm):
    """A ModelForm whose save is a service call, made while the form validates.

    ``save_with_service(instance, fields, user)`` (set by the admin) returns the saved object;
    its ``ValidationError``s land on the form's fields, and a refusal (409, 403) on the form as a
    whole. ``fields`` holds the cleaned values of
    the fields the user changed (every field on an add form)."""

    save_with_service = None
    acting_user = None
    saved = None

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        adding = self.instance._state.adding
        names = [name for name in self.fields if adding or name in self.changed_data]
        fields = {name: self.cleaned_data[name] for name in names if name in self.cleaned_data}
        try:
            with transaction.atomic():
                self.saved = type(self).save_with_service(self.instance, fields, self.acting_user, adding)
        except ValidationError as exc:
            self._update_errors(exc)
        except (APIException, PermissionDenied) as exc:  # a 409 or 403 of the service: the form's error
            self.add_error(None, str(getattr(exc, "detail", exc)))


class ServiceAdmin(admin.ModelAdmin):
    """Saves through ``save_with_service`` (see ``ServiceForm``) and, when ``delete_with_service``
    (``(obj, user)``) is set, deletes through it too — one object at a time, bulk deletes as well."""

    form = ServiceForm
    delete_with_service = None

    @staticmethod
    def save_with_service(instance, fields, user, adding):
        raise NotImplementedError  # each subclass names its service

    def delete_model(self, request, obj):
        if self.delete_with_service is None:
            return super().delete_model(request, obj)
        return self.delete_with_service(obj, request.user)

    def delete_queryset(self, request, queryset):
        if self.delete_with_service is None:
            return super().delete_queryset(request, queryset)
        for obj in queryset:
            self.delete_with_service(obj, request.user)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"acting_user": request.user, "save_with_service": self.save_with_service})

    def save_model(self, request, obj, form, change):
        saved = form.saved
        if saved is not None and saved is not obj:
            obj.pk = saved.pk
            obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})
            obj._state = saved._state

    def save_related(self, request, form, formsets, change):
        """Many-to-many fields were saved by the service; only editable inlines remain."""
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class TimelineInline(ReadOnlyInline):
    model = TimelineEntry
    fk_name = "incident"
    fields = ["time", "kind", "public", "author_name", "body"]
    readonly_fields = fields
    ordering = ["time", "id"]


class AttachmentInline(ReadOnlyInline):
    model = Attachment
    fields = ["name", "content_type", "size", "uploaded_by", "created_at"]
    readonly_fields = fields


@admin.register(Incident)
class IncidentAdmin(ServiceAdmin):
    list_display = ["number", "title", "state", "priority", "assignment_team", "assignee", "is_major", "created_at"]
    list_filter = ["state", "priority", "is_major", "source", "assignment_team", "category"]
    list_select_related = ["assignment_team", "assignee"]
    search_fields = ["number", "title", "description", "caller_contact"]
    date_hierarchy = "created_at"
    autocomplete_fields = ["category", "caller", "assignment_team", "assignee", "affected_cis", "watchers"]
    readonly_fields = [
        "number",
        "state",
        "priority",
        "source",
        "hold_reason",
        "resolution_code",
        "resolution_notes",
        "first_responded_at",
        "resolved_at",
        "closed_at",
        "is_major",
        "parent",
        "problem",
        "opened_by",
        "services",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["number", "title", "description", "state", "source"]}),
        ("Priority", {"fields": ["impact", "urgency", "priority", "category"]}),
        ("People", {"fields": ["caller", "caller_contact", "assignment_team", "assignee", "watchers", "opened_by"]}),
        ("Configuration items", {"fields": ["affected_cis", "services"]}),
        (
            "Progress",
            {
                "fields": [
                    "hold_reason",
                    "resolution_code",
                    "resolution_notes",
                    "first_responded_at",
                    "resolved_at",
                    "closed_at",
                ]
            },
        ),
        ("Links", {"fields": ["is_major", "parent", "problem", "created_at", "updated_at"]}),
    ]
    inlines = [TimelineInline, AttachmentInline]

    @admin.display(description="Affected business services")
    def services(self, incident):
        return ", ".join(ci.name for ci in incident.affected_services.all()) or "—"

    @staticmethod
    def save_with_service(instance, fields, user, adding):
        if adding:
            return incident_services.create_incident(user=user, source="manual", **fields)
        return incident_services.update_incident(instance, user=user, **fields)


@admin.register(PriorityRule)
class PriorityRuleAdmin(admin.ModelAdmin):
    """The ITIL matrix. A cell removed falls back to the default; incidents take a new priority
    the next time their impact or urgency changes."""

    list_display = ["impact", "urgency", "priority", "default_priority"]
    list_editable = ["priority"]
    list_display_links = None
    ordering = ["impact", "urgency"]

    @admin.display(description="ITIL default")
    def default_priority(self, rule):
        return DEFAULT_PRIORITY_MATRIX.get((rule.impact, rule.urgency))

    def has_add_permission(self, request):
        return super().has_add_permission(request) and PriorityRule.objects.count() < len(DEFAULT_PRIORITY_MATRIX)

    def get_readonly_fields(self, request, obj=None):
        return ["impact", "urgency"] if obj is not None else []


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "active", "incident_count", "problem_count"]
    list_filter = ["active"]
    search_fields = ["name", "description"]
    ordering = ["name"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_incidents=Count("incidents", distinct=True), _problems=Count("problems", distinct=True))
        )

    @admin.display(ordering="_incidents", description="Incidents")
    def incident_count(self, category):
        return category._incidents

    @admin.display(ordering="_problems", description="Problems")
    def problem_count(self, category):
        return category._problems


class ProblemTimelineInline(ReadOnlyInline):
    model = ProblemTimelineEntry
    fields = ["time", "kind", "author_name", "body"]
    readonly_fields = fields
    ordering = ["time", "id"]


@admin.register(Problem)
class ProblemAdmin(ServiceAdmin):
    list_display = ["number", "title", "state", "priority", "assignment_team", "assignee", "created_at"]
    list_filter = ["state", "priority", "assignment_team", "category"]
    list_select_related = ["assignment_team", "assignee"]
    search_fields = ["number", "title", "description", "root_cause", "workaround"]
    autocomplete_fields = ["category", "assignment_team", "assignee", "affected_cis"]
    readonly_fields = ["number", "state", "workaround", "resolved_at", "closed_at", "opened_by", "created_at"]
    fields = [
        "number",
        "title",
        "description",
        "state",
        "priority",
        "category",
        "assignment_team",
        "assignee",
        "affected_cis",
        "root_cause",
        "workaround",
        "resolved_at",
        "closed_at",
        "opened_by",
        "created_at",
    ]
    inlines = [ProblemTimelineInline]

    @staticmethod
    def save_with_service(instance, fields, user, adding):
        from incidents.services import problems

        if adding:
            root_cause = fields.pop("root_cause", "")
            problem = problems.create_problem(user=user, **fields)
            return problems.update_problem(problem, user=user, root_cause=root_cause) if root_cause else problem
        return problems.update_problem(instance, user=user, **fields)

    def delete_model(self, request, obj):
        from incidents.services import problems

        problems.delete_problem(obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for problem in queryset:
            self.delete_model(request, problem)


@admin.register(KnownError)
class KnownErrorAdmin(ServiceAdmin):
    list_display = ["number", "title", "active", "problem", "created_at"]
    list_filter = ["active"]
    list_select_related = ["problem"]
    search_fields = ["number", "title", "symptom", "root_cause", "workaround"]
    autocomplete_fields = ["problem", "affected_cis"]
    readonly_fields = ["number", "created_at", "updated_at"]
    fields = ["number", "title", "symptom", "root_cause", "workaround", "affected_cis", "active", "problem"]

    @staticmethod
    def save_with_service(instance, fields, user, adding):
        from incidents.services import problems

        if adding:
            return problems.create_known_error(user=user, **fields)
        return problems.update_known_error(instance, user=user, **fields)

    def delete_model(self, request, obj):
        from incidents.services import problems

        problems.delete_known_error(obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for known_error in queryset:
            self.delete_model(request, known_error)
