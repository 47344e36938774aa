"""Serializers of ``/api/v1/changes/…``.

A change is read with its people, team and CIs embedded in brief (``{"id", "name"}``,
``{"id", "username", "full_name"}``), its risk (``risk``) and its current approval round
(``approval``), and written with ``ChangeWriteSerializer``: related objects as an id or a natural
key (a team by name, a user by username, an incident by number). The serializers check field
types and choices; the whole write (the assignee in the team, the schedule, the template …) is
validated by ``changes.services``, whose errors become 400s naming the field. Fields with an
action of their own (``state``, ``risk_override`` …) are refused with a pointer to it.

The serializers of the blackout windows, templates, risk questionnaire and approval policies
live with their viewsets in ``changes.api.configuration``.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.serializers import BriefTeamSerializer, BriefUserSerializer
from changes.api.configuration import BlackoutWindowSerializer, choice_field
from changes.choices import (
    ApproverKind,
    ChangeState,
    ChangeTimelineKind,
    ChangeType,
    CloseCode,
    ConflictKind,
    Decision,
    RiskLevel,
    StageState,
)
from changes.models import (
    ChangeRequest,
    ChangeTimelineEntry,
    RiskOption,
    StandardChangeTemplate,
)
from cmdb.api.serializers import BriefCISerializer
from cmdb.models import CI
from incidents.api.serializers import BriefIncidentSerializer, IncidentRelatedField, assignee_field, team_field
from incidents.models import Category, Incident
from itom.api.serializers import web_url

# --- reading a change -------------------------------------------------------------------------


class BriefChangeTemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = StandardChangeTemplate
        fields = ["id", "key", "version", "name"]


class BriefChangeSerializer(serializers.ModelSerializer):
    """A change in a list of changes elsewhere (the calendar, the CAB agenda)."""

    risk = serializers.CharField(source="effective_risk", help_text="The effective risk level.")
    assignment_team = BriefTeamSerializer(allow_null=True)
    assignee = BriefUserSerializer(allow_null=True)
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = ChangeRequest
        fields = [
            "id",
            "number",
            "title",
            "type",
            "state",
            "risk",
            "planned_start",
            "planned_end",
            "assignment_team",
            "assignee",
            "web_url",
        ]
        read_only_fields = fields

    def get_web_url(self, change) -> str:
        return web_url(change)


class ChangeRiskSerializer(serializers.Serializer):
    score = serializers.IntegerField(source="risk_score")
    level = serializers.ChoiceField(source="risk_level", choices=RiskLevel.choices)
    override = serializers.CharField(source="risk_override", help_text="A manager's level; empty: none.")
    override_reason = serializers.CharField(source="risk_override_reason")
    effective = serializers.CharField(source="effective_risk", help_text="The level that counts.")
    factors = serializers.ListField(
        source="risk_factors",
        child=serializers.DictField(),
        help_text='How the score was reached: [{"factor", "label", "points"}].',
    )


class ChangeDecisionSerializer(serializers.Serializer):
    approver = BriefUserSerializer()
    decision = serializers.ChoiceField(choices=Decision.choices)
    comment = serializers.CharField()
    decided_at = serializers.DateTimeField()


class ChangeStageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    order = serializers.IntegerField()
    name = serializers.CharField()
    state = serializers.ChoiceField(choices=StageState.choices)
    approver_kind = serializers.ChoiceField(choices=ApproverKind.choices)
    approver_team = BriefTeamSerializer(allow_null=True)
    required_approvals = serializers.IntegerField()
    approvals = serializers.SerializerMethodField(help_text="Approvals given so far.")
    is_cab = serializers.BooleanField()
    decided_at = serializers.DateTimeField(allow_null=True)
    decisions = ChangeDecisionSerializer(many=True, source="decisions.all")

    def get_approvals(self, stage) -> int:
        return sum(1 for d in stage.decisions.all() if d.decision == Decision.APPROVED)


class ChangeApprovalSerializer(serializers.Serializer):
    round = serializers.IntegerField(source="approval_round", help_text="0: approvals not requested yet.")
    requested_at = serializers.DateTimeField(source="approval_requested_at", allow_null=True)
    approved_at = serializers.DateTimeField(allow_null=True)
    stages = serializers.SerializerMethodField(help_text="The stages of the current round, in order.")

    @extend_schema_field(ChangeStageSerializer(many=True))
    def get_stages(self, change):
        stages = [s for s in change.approval_stages.all() if s.round == change.approval_round]
        return ChangeStageSerializer(sorted(stages, key=lambda s: s.order), many=True).data


class ChangeSerializer(serializers.ModelSerializer):
    """A change as the API answers it (``ChangeWriteSerializer`` is what it accepts)."""

    display = serializers.SerializerMethodField(help_text="The change's number and title.")
    template = BriefChangeTemplateSerializer(read_only=True, allow_null=True)
    requester = BriefUserSerializer(read_only=True, allow_null=True)
    assignment_team = BriefTeamSerializer(read_only=True, allow_null=True)
    assignee = BriefUserSerializer(read_only=True, allow_null=True)
    affected_cis = BriefCISerializer(many=True, read_only=True)
    impacted_cis = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="Derived: the CIs downstream of the affected CIs."
    )
    impacted_services = BriefCISerializer(
        many=True, read_only=True, help_text="Derived: the business services among the affected and impacted CIs."
    )
    risk = ChangeRiskSerializer(source="*", read_only=True)
    approval = ChangeApprovalSerializer(source="*", read_only=True)
    incidents = BriefIncidentSerializer(many=True, read_only=True, help_text="Incidents waiting for this change.")
    caused_incidents = BriefIncidentSerializer(many=True, read_only=True, help_text="Incidents this change caused.")
    allowed_transitions = serializers.SerializerMethodField(help_text="The states it may move to next.")
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = ChangeRequest
        fields = [
            "id",
            "number",
            "display",
            "title",
            "description",
            "justification",
            "type",
            "state",
            "category",
            "template",
            "requester",
            "assignment_team",
            "assignee",
            "affected_cis",
            "impacted_cis",
            "impacted_services",
            "planned_start",
            "planned_end",
            "actual_start",
            "actual_end",
            "implementation_plan",
            "backout_plan",
            "test_plan",
            "emergency_justification",
            "close_code",
            "close_notes",
            "review_notes",
            "risk",
            "approval",
            "incidents",
            "caused_incidents",
            "allowed_transitions",
            "closed_at",
            "opened_by",
            "web_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_display(self, change) -> str:
        return str(change)

    def get_allowed_transitions(self, change) -> list[str]:
        from changes.services.changes import allowed_transitions

        return [str(state) for state in allowed_transitions(change)]

    def get_web_url(self, change) -> str:
        return web_url(change)


# --- writing a change -------------------------------------------------------------------------


class ChangeWriteSerializer(serializers.Serializer):
    """What ``POST /api/v1/changes/`` and ``PATCH /api/v1/changes/{id}/`` accept."""

    title = serializers.CharField(max_length=200, required=False, help_text="Required unless `incidents` is given.")
    description = serializers.CharField(allow_blank=True, required=False)
    justification = serializers.CharField(allow_blank=True, required=False)
    type = choice_field("type", ChangeType, required=False, help_text="Default normal; editable while new.")
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all(), allow_null=True, required=False)
    template = serializers.PrimaryKeyRelatedField(
        queryset=StandardChangeTemplate.objects.all(),
        allow_null=True,
        required=False,
        help_text="On creation: the approved template of a standard change (its plans, team and risk are copied).",
    )
    assignment_team = team_field()
    assignee = assignee_field()
    affected_cis = serializers.PrimaryKeyRelatedField(queryset=CI.objects.all(), many=True, required=False)
    planned_start = serializers.DateTimeField(allow_null=True, required=False)
    planned_end = serializers.DateTimeField(allow_null=True, required=False)
    implementation_plan = serializers.CharField(allow_blank=True, required=False)
    backout_plan = serializers.CharField(allow_blank=True, required=False)
    test_plan = serializers.CharField(allow_blank=True, required=False)
    emergency_justification = serializers.CharField(allow_blank=True, required=False)
    incidents = serializers.ListField(
        child=IncidentRelatedField(queryset=Incident.objects.all()),
        required=False,
        help_text="On creation: request the change for these incidents (ids or numbers). The first one "
        "fills in what is not given (title, type, CIs, team, description) and all of them go on hold "
        "awaiting the change.",
    )
    risk_answers = serializers.PrimaryKeyRelatedField(
        queryset=RiskOption.objects.all(),
        many=True,
        required=False,
        help_text="On creation: the chosen option of each risk question (ids). Later: POST …/risk/.",
    )

    # Fields written by an action of their own: a write naming them is a 400 that says which.
    own_actions = {
        "state": "Change the state with POST …/transition/.",
        "close_code": "Give the close code with POST …/transition/ {'state': 'review' or 'closed', 'close_code'}.",
        "close_notes": "Give the close notes with POST …/transition/.",
        "review_notes": "Give the review notes with POST …/transition/ {'state': 'closed', 'review_notes'}.",
        "risk_override": "Override the risk with POST …/override-risk/ (managers).",
        "risk_level": "The risk follows the questionnaire and the CIs (POST …/risk/).",
        "risk_score": "The risk follows the questionnaire and the CIs (POST …/risk/).",
        "requester": "The requester is who created the change.",
        "caused_incidents": "Mark a cause with POST …/incidents/ {'incident', 'relation': 'caused'}.",
    }
    create_only = {
        "template": "The template is chosen when the change is created.",
        "incidents": "Link incidents with POST …/incidents/.",
        "risk_answers": "Answer the risk questionnaire with POST …/risk/.",
    }

    def to_internal_value(self, data):
        """On an edit, leave out the fields kept by their own action (or set at creation) that are
        sent back unchanged: a PATCH of the whole body a GET returned changes only what differs."""
        if self.instance is not None and isinstance(data, dict):
            kept = {*self.own_actions, *self.create_only}
            data = {name: value for name, value in data.items() if name not in kept or not self._unchanged(name, value)}
        self._sent = set(data) if hasattr(data, "keys") else set()
        return super().to_internal_value(data)

    def validate(self, attrs):
        sent = getattr(self, "_sent", set())
        refused = {name: [reason] for name, reason in self.own_actions.items() if name in sent}
        if self.instance is not None:
            refused.update({name: [reason] for name, reason in self.create_only.items() if name in sent})
        elif not attrs.get("title") and not attrs.get("incidents"):
            refused["title"] = ["Give the change a title."]
        if refused:
            raise serializers.ValidationError(refused)
        return attrs

    def _unchanged(self, name, value):
        """A value sent back as it was read (a PATCH of a whole GET body) passes."""
        if self.instance is None or not hasattr(self.instance, name):
            return False
        current = getattr(self.instance, name)

        def ref(item):  # an id, or a brief object as the API answers it
            return str(item.get("id") if isinstance(item, dict) else item)

        if hasattr(current, "all"):
            items = value if isinstance(value, list) else []
            return sorted(map(ref, items)) == sorted(str(obj.pk) for obj in current.all())
        if hasattr(current, "pk"):
            return ref(value) == str(current.pk)
        return value == current or (value is not None and str(value) == str(current))


class ChangeTransitionSerializer(serializers.Serializer):
    state = serializers.CharField(help_text=", ".join(ChangeState.values))
    note = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Shown on the timeline; needed to send back or cancel."
    )
    close_code = serializers.CharField(
        required=False, allow_blank=True, default="", help_text=f"For review and closed: {', '.join(CloseCode.values)}."
    )
    close_notes = serializers.CharField(required=False, allow_blank=True, default="")
    review_notes = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="The post-implementation review, when one is required."
    )
    emergency_justification = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        default=None,
        help_text="For scheduled: why an emergency change may go ahead inside a blackout window.",
    )


class ChangeApproveSerializer(serializers.Serializer):
    decision = serializers.CharField(help_text="approved or rejected")
    comment = serializers.CharField(required=False, allow_blank=True, default="", help_text="Required to reject.")


class ChangeNoteSerializer(serializers.Serializer):
    body = serializers.CharField(allow_blank=True, trim_whitespace=True)


class ChangeTimelineEntrySerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=ChangeTimelineKind.choices, read_only=True)

    class Meta:
        model = ChangeTimelineEntry
        fields = ["id", "time", "kind", "author", "author_name", "body", "data"]


class ChangeConflictSerializer(serializers.Serializer):
    """One conflict of a change's window (``changes.conflicts.Conflict``)."""

    kind = serializers.ChoiceField(choices=ConflictKind.choices)
    message = serializers.CharField()
    change_id = serializers.IntegerField(allow_null=True, help_text="The other change, when there is one.")
    change_number = serializers.CharField()
    change_title = serializers.CharField()
    change_state = serializers.CharField()
    start = serializers.DateTimeField(allow_null=True)
    end = serializers.DateTimeField(allow_null=True)
    ci_ids = serializers.ListField(child=serializers.IntegerField(), help_text="The CIs both touch.")
    ci_names = serializers.ListField(child=serializers.CharField())
    blackout_id = serializers.IntegerField(allow_null=True)
    blackout_name = serializers.CharField()


class ChangeRiskAnswersSerializer(serializers.Serializer):
    answers = serializers.ListField(
        child=serializers.IntegerField(min_value=1), help_text="The chosen option ids, one per question."
    )


class ChangeRiskOverrideSerializer(serializers.Serializer):
    level = serializers.CharField(allow_blank=True, help_text=f"{', '.join(RiskLevel.values)}; empty clears it.")
    reason = serializers.CharField(allow_blank=True, required=False, default="")


class ChangeRiskOptionAnswerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    score = serializers.IntegerField()


class ChangeRiskQuestionAnswerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    help_text = serializers.CharField()
    options = ChangeRiskOptionAnswerSerializer(many=True)
    answer = serializers.IntegerField(allow_null=True, help_text="The chosen option's id.")


class ChangeRiskExplanationSerializer(ChangeRiskSerializer):
    """The change's risk and how it was reached, with the questionnaire and its answers."""

    overridden_by = BriefUserSerializer(source="risk_overridden_by", allow_null=True)
    questions = ChangeRiskQuestionAnswerSerializer(many=True, source="explained_questions")


class ChangeLinkIncidentSerializer(serializers.Serializer):
    incident = IncidentRelatedField(queryset=Incident.objects.all(), help_text="The incident's id or number.")
    relation = serializers.ChoiceField(
        choices=[("fixes", "The change fixes it"), ("caused", "The change caused it")], default="fixes"
    )
    unlink = serializers.BooleanField(default=False, help_text="True: remove the link (or the cause).")


class ChangeIncidentsSerializer(serializers.Serializer):
    incidents = BriefIncidentSerializer(many=True, help_text="Incidents waiting for this change.")
    caused_incidents = BriefIncidentSerializer(many=True, help_text="Incidents this change caused.")


# --- calendar, KPIs, CAB, feed ----------------------------------------------------------------


class ApprovalLeadTimeSerializer(serializers.Serializer):
    median = serializers.FloatField(allow_null=True)
    mean = serializers.FloatField(allow_null=True)
    count = serializers.IntegerField(help_text="Changes approved in the period.")


class ChangeKPISerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    closed = serializers.IntegerField(help_text="Changes closed in the period.")
    successful = serializers.IntegerField(help_text="… of which successful (with or without issues).")
    success_rate = serializers.FloatField(allow_null=True, help_text="successful / closed; null: none closed.")
    created = serializers.IntegerField(help_text="Changes created in the period.")
    emergency = serializers.IntegerField(help_text="… of which emergencies.")
    emergency_share = serializers.FloatField(allow_null=True)
    caused_incidents = serializers.IntegerField(help_text="Changes closed in the period that caused an incident.")
    caused_incidents_rate = serializers.FloatField(allow_null=True)
    approval_lead_time_hours = ApprovalLeadTimeSerializer(
        help_text="Approval requested → approved, for the changes approved in the period."
    )


class CABAgendaSerializer(serializers.Serializer):
    meeting_at = serializers.DateTimeField(help_text="The next CAB meeting.")
    following_meeting_at = serializers.DateTimeField()
    awaiting = BriefChangeSerializer(many=True, help_text="Changes with a CAB stage awaiting approval.")
    reviews = BriefChangeSerializer(many=True, help_text="Changes awaiting their post-implementation review.")
    forward_schedule = BriefChangeSerializer(
        many=True, help_text="Scheduled and implementing changes starting before the following meeting."
    )


class ChangeFeedSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="The caller's private iCalendar feed: the token in it is the credential.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    last_fetched_at = serializers.DateTimeField(allow_null=True)


class ChangeCalendarSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    changes = BriefChangeSerializer(many=True, help_text="Changes whose planned window overlaps the period.")
    blackouts = BlackoutWindowSerializer(many=True, help_text="Active blackout windows overlapping the period.")
