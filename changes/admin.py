"""Change management in the admin console (managers): change requests, the risk
questionnaire, approval policies, standard-change templates, blackout windows and calendar feeds.

Writes of changes and templates go through the services, as in ``incidents.admin``: the form
runs the service while it validates, so its errors land on the fields and nothing is written.
States move only through the services' transitions (the pages and the API); the admin shows
them, the approval stages and the timeline read-only.
"""

from django.contrib import admin

from changes.models import (
    ApprovalPolicy,
    ApprovalPolicyStage,
    BlackoutWindow,
    CalendarFeed,
    ChangeApprovalStage,
    ChangeRequest,
    ChangeTimelineEntry,
    RiskOption,
    RiskQuestion,
    StandardChangeTemplate,
)
from incidents.admin import ReadOnlyInline, ServiceAdmin


class TimelineInline(ReadOnlyInline):
    model = ChangeTimelineEntry
    fields = ["time", "kind", "author_name", "body"]
    readonly_fields = fields
    ordering = ["time", "id"]


class ApprovalStageInline(ReadOnlyInline):
    model = ChangeApprovalStage
    fields = ["round", "order", "name", "approver_kind", "approver_team", "required_approvals", "state", "decisions"]
    readonly_fields = fields
    ordering = ["round", "order"]

    @admin.display(description="Decisions")
    def decisions(self, stage):
        return (
            "; ".join(
                f"{d.approver.get_username()}: {d.decision}" + (f" ({d.comment})" if d.comment else "")
                for d in stage.decisions.select_related("approver")
            )
            or "—"
        )


@admin.register(ChangeRequest)
class ChangeRequestAdmin(ServiceAdmin):
    list_display = ["number", "title", "type", "state", "risk_level", "planned_start", "assignment_team", "assignee"]
    list_filter = ["type", "state", "risk_level", "assignment_team", "category"]
    list_select_related = ["assignment_team", "assignee"]
    search_fields = ["number", "title", "description"]
    date_hierarchy = "created_at"
    autocomplete_fields = ["category", "assignment_team", "assignee", "affected_cis"]
    readonly_fields = [
        "number",
        "requester",
        "type",
        "state",
        "template",
        "risk_score",
        "risk_level",
        "risk_override",
        "risk_override_reason",
        "approval_round",
        "approval_requested_at",
        "approved_at",
        "actual_start",
        "actual_end",
        "close_code",
        "close_notes",
        "review_notes",
        "closed_at",
        "opened_by",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["number", "title", "description", "justification", "type", "state", "template"]}),
        ("People", {"fields": ["requester", "assignment_team", "assignee", "category", "opened_by"]}),
        ("Configuration items", {"fields": ["affected_cis"]}),
        ("Schedule", {"fields": ["planned_start", "planned_end", "actual_start", "actual_end"]}),
        ("Plans", {"fields": ["implementation_plan", "backout_plan", "test_plan", "emergency_justification"]}),
        ("Risk", {"fields": ["risk_score", "risk_level", "risk_override", "risk_override_reason"]}),
        ("Approvals", {"fields": ["approval_round", "approval_requested_at", "approved_at"]}),
        ("Outcome", {"fields": ["close_code", "close_notes", "review_notes", "closed_at", "created_at", "updated_at"]}),
    ]
    inlines = [ApprovalStageInline, TimelineInline]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:  # the type is chosen when the change is made (standard ones come from a template)
            return [name for name in self.readonly_fields if name != "type"]
        return self.readonly_fields

    @staticmethod
    def save_with_service(instance, fields, user, adding):
        from changes.services import changes

        if adding:
            return changes.create_change(user=user, **fields)
        return changes.update_change(instance, user=user, **fields)


class RiskOptionInline(admin.TabularInline):
    model = RiskOption
    extra = 1
    fields = ["order", "label", "score"]


@admin.register(RiskQuestion)
class RiskQuestionAdmin(admin.ModelAdmin):
    """The risk questionnaire. A change keeps the answers it was given; a question switched off
    is no longer asked."""

    list_display = ["text", "order", "active"]
    list_editable = ["order", "active"]
    list_filter = ["active"]
    search_fields = ["text"]
    inlines = [RiskOptionInline]


class ApprovalPolicyStageInline(admin.TabularInline):
    model = ApprovalPolicyStage
    extra = 1
    fields = ["order", "name", "approver_kind", "approver_team", "required_approvals", "is_cab"]
    autocomplete_fields = ["approver_team"]


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(admin.ModelAdmin):
    """Which stages a change's approval goes through, by type and risk. Changes already in an
    approval round keep the stages they were given."""

    list_display = ["name", "change_type", "risk_level", "active", "stage_list"]
    list_filter = ["change_type", "risk_level", "active"]
    search_fields = ["name", "description"]
    inlines = [ApprovalPolicyStageInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("stages__approver_team")

    @admin.display(description="Stages")
    def stage_list(self, policy):
        return " → ".join(f"{s.name} ({s.required_approvals})" for s in policy.stages.all()) or "—"


@admin.register(StandardChangeTemplate)
class StandardChangeTemplateAdmin(ServiceAdmin):
    list_display = ["name", "key", "version", "state", "risk_level", "assignment_team", "approved_by"]
    list_filter = ["state", "risk_level", "assignment_team"]
    search_fields = ["name", "key", "description"]
    autocomplete_fields = ["category", "assignment_team", "ci_classes"]
    readonly_fields = ["version", "state", "author", "approved_by", "approved_at", "created_at"]
    fields = [
        "key",
        "name",
        "description",
        "category",
        "assignment_team",
        "risk_level",
        "ci_classes",
        "implementation_plan",
        "backout_plan",
        "test_plan",
        "version",
        "state",
        "author",
        "approved_by",
        "approved_at",
    ]
    actions = ["approve"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.state != "draft":  # approved and retired versions are history: revise instead
            return self.fields
        return self.readonly_fields

    @staticmethod
    def save_with_service(instance, fields, user, adding):
        from changes.services import templates

        if adding:
            return templates.create_template(user=user, **fields)
        return templates.update_template(instance, user=user, **fields)

    @admin.action(description="Approve the selected draft templates")
    def approve(self, request, queryset):
        from django.core.exceptions import PermissionDenied
        from rest_framework.exceptions import APIException

        from changes.services import templates

        for template in queryset:
            try:
                templates.approve_template(template, user=request.user)
            except (PermissionDenied, APIException) as exc:
                self.message_user(request, f"{template}: {exc}", level="error")
            else:
                self.message_user(request, f"{template} approved.")


@admin.register(BlackoutWindow)
class BlackoutWindowAdmin(admin.ModelAdmin):
    list_display = ["name", "start", "end", "environment", "active"]
    list_filter = ["active", "environment"]
    search_fields = ["name", "reason"]
    date_hierarchy = "start"
    autocomplete_fields = ["ci_classes", "business_services"]


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    """Users' iCalendar feeds: delete one to revoke its address."""

    list_display = ["user", "created_at", "last_fetched_at"]
    search_fields = ["user__username"]
    readonly_fields = ["user", "token", "created_at", "last_fetched_at"]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False
