"""Serializers of ``/api/v1/incidents/``, ``/api/v1/incident-categories/`` and
``/api/v1/priority-matrix/``.

Related objects are read as ids and written as an id or a natural key: a team by name, a user by
username, a parent incident by number (``"parent": "INC0000042"``). The serializers check field
types and choices; the whole write (assignee in the team, category active, parent a major
incident …) is validated by ``incidents.services.incidents``, whose errors become 400s naming the
field. Fields with an action of their own (``state``, ``priority``, ``is_major`` …) are refused
with a pointer to it rather than silently ignored.
"""

from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse
from rest_framework import serializers
from rest_framework.reverse import reverse as api_reverse

from accounts.models import Team
from cmdb.api.serializers import BriefCISerializer, IdOrSlugRelatedField
from cmdb.models import CI
from incidents.choices import HoldReason, Impact, IncidentState, Priority, ResolutionCode, Source, TimelineKind, Urgency
from incidents.models import Attachment, Category, Incident, PriorityRule, TimelineEntry
from incidents.services import incidents as services
from itom.api.serializers import ValidatedModelSerializer, web_url
from slas.api.serializers import SLAClockSerializer

User = get_user_model()


def _level_field(name, choices, **kwargs):
    levels = ", ".join(label for _, label in choices.choices)
    return serializers.ChoiceField(
        choices=choices.choices,
        error_messages={"invalid_choice": f"{name} must be one of {levels}; got {{input}}."},
        **kwargs,
    )


def team_field(**kwargs):
    """A team, read as its id and written as its id or its name (optional, nullable)."""
    options = {"allow_null": True, "required": False, "help_text": "Id or name.", **kwargs}
    return IdOrSlugRelatedField(slug_field="name", queryset=Team.objects.all(), **options)


def assignee_field():
    """An active person to assign work to, read as an id and written as an id or a username."""
    return IdOrSlugRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        allow_null=True,
        required=False,
        help_text="Id or username; a member of the assignment team.",
    )


class IncidentRelatedField(IdOrSlugRelatedField):
    """An incident read as its id and written as its id or its number (``INC0000042``)."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="number", **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = data.strip().upper() if not data.strip().isdigit() else data
        return super().to_internal_value(data)


class BriefIncidentSerializer(serializers.ModelSerializer):
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = ["id", "number", "title", "state", "priority", "assignment_team", "assignee", "web_url"]

    def get_web_url(self, incident) -> str:
        return web_url(incident)


class IncidentSerializer(serializers.ModelSerializer):
    """An incident with its SLA clocks (``sla``) and the business services its CIs affect."""

    display = serializers.SerializerMethodField(help_text="The incident's number and title.")
    title = serializers.CharField(max_length=200)
    impact = _level_field("Impact", Impact, required=False, help_text="1 high … 3 low.")
    urgency = _level_field("Urgency", Urgency, required=False, help_text="1 high … 3 low.")
    source = serializers.ChoiceField(
        choices=Source.choices, required=False, help_text="How it came in; default api. Set on creation only."
    )
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all(), allow_null=True, required=False)
    caller = IdOrSlugRelatedField(
        slug_field="username", queryset=User.objects.filter(is_active=True), allow_null=True, required=False
    )
    caller_contact = serializers.CharField(max_length=200, allow_blank=True, required=False)
    assignment_team = team_field()
    assignee = assignee_field()
    affected_cis = serializers.PrimaryKeyRelatedField(queryset=CI.objects.all(), many=True, required=False)
    affected_services = BriefCISerializer(
        many=True, read_only=True, help_text="Business services depending on the affected CIs (from the CMDB)."
    )
    watchers = IdOrSlugRelatedField(
        slug_field="username", queryset=User.objects.filter(is_active=True), many=True, required=False
    )
    parent = IncidentRelatedField(
        queryset=Incident.objects.all(),
        allow_null=True,
        required=False,
        help_text="The major incident this one is part of (id or number); null unlinks it.",
    )
    allowed_transitions = serializers.SerializerMethodField(help_text="The states it may move to next.")
    sla = SLAClockSerializer(source="sla_clocks", many=True, read_only=True)
    web_url = serializers.SerializerMethodField()

    # Fields written by an action of their own: a write naming them is a 400 that says which.
    own_actions = {
        "state": "Change the state with POST …/transition/.",
        "priority": "The priority follows impact and urgency (the priority matrix).",
        "hold_reason": "Give the hold reason with POST …/transition/ {'state': 'on_hold', 'hold_reason': …}.",
        "resolution_code": "Resolve with POST …/transition/ {'state': 'resolved', 'resolution_code', 'note'}.",
        "resolution_notes": "Resolve with POST …/transition/ {'state': 'resolved', 'resolution_code', 'note'}.",
        "is_major": "Promote with POST …/promote/.",
        "problem": "Link incidents to a problem with POST /api/v1/problems/{id}/link-incidents/.",
    }

    class Meta:
        model = Incident
        fields = [
            "id",
            "number",
            "display",
            "title",
            "description",
            "state",
            "impact",
            "urgency",
            "priority",
            "category",
            "caller",
            "caller_contact",
            "assignment_team",
            "assignee",
            "affected_cis",
            "affected_services",
            "source",
            "hold_reason",
            "resolution_code",
            "resolution_notes",
            "first_responded_at",
            "resolved_at",
            "closed_at",
            "watchers",
            "is_major",
            "parent",
            "problem",
            "opened_by",
            "allowed_transitions",
            "sla",
            "web_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "number",
            "state",
            "priority",
            "hold_reason",
            "resolution_code",
            "resolution_notes",
            "first_responded_at",
            "resolved_at",
            "closed_at",
            "is_major",
            "problem",
            "opened_by",
        ]

    def get_display(self, incident) -> str:
        return str(incident)

    def get_allowed_transitions(self, incident) -> list[str]:
        return services.allowed_transitions(incident)

    def get_web_url(self, incident) -> str:
        return web_url(incident)

    def validate(self, attrs):
        """Refuse a write that tries to change a field kept by its own action (a full PUT of what
        a GET returned, unchanged, passes)."""
        data = self.initial_data if hasattr(self.initial_data, "get") else {}
        own = {**self.own_actions}
        if self.instance is not None:
            own["source"] = "The source is set when the incident is opened."
        refused = {
            name: reason for name, reason in own.items() if name in data and not self._unchanged(name, data.get(name))
        }
        if refused:
            raise serializers.ValidationError(refused)
        if self.instance is not None:
            attrs.pop("source", None)  # unchanged (checked above)
        return attrs

    def _unchanged(self, name, value):
        if self.instance is None:
            return False
        current = getattr(self.instance, "problem_id" if name == "problem" else name)
        return value == current or (value is not None and current is not None and str(value) == str(current))


class TransitionSerializer(serializers.Serializer):
    state = serializers.CharField(help_text=", ".join(IncidentState.values))
    note = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Shown on the timeline; the resolution notes."
    )
    hold_reason = serializers.CharField(
        required=False, allow_blank=True, default="", help_text=f"For on_hold: {', '.join(HoldReason.values)}."
    )
    resolution_code = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=f"For resolved: {', '.join(ResolutionCode.values)}.",
    )


class CommentSerializer(serializers.Serializer):
    body = serializers.CharField(allow_blank=True, trim_whitespace=True)
    public = serializers.BooleanField(
        default=True, help_text="True: a comment the caller sees; false: an internal work note."
    )


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, use_url=False)


class MajorUpdateSerializer(serializers.Serializer):
    body = serializers.CharField(allow_blank=True, trim_whitespace=True)


class ResolveChildrenSerializer(serializers.Serializer):
    resolution_code = serializers.CharField(allow_blank=True, help_text=", ".join(ResolutionCode.values))
    note = serializers.CharField(allow_blank=True, help_text="The resolution notes each child gets.")


class LinkChildSerializer(serializers.Serializer):
    incident = IncidentRelatedField(queryset=Incident.objects.all(), help_text="The child's id or number.")


class ResolvedChildrenSerializer(serializers.Serializer):
    resolved = serializers.IntegerField(help_text="How many children were resolved.")


class BulkSerializer(serializers.Serializer):
    """``{"action": "assign", "ids": [...], "assignment_team", "assignee"?}`` or
    ``{"action": "transition", "ids": [...], "state", "note"?, "hold_reason"?, "resolution_code"?}``."""

    action = serializers.ChoiceField(choices=[("assign", "Assign"), ("transition", "Change state")])
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), allow_empty=False)
    assignment_team = IdOrSlugRelatedField(
        slug_field="name", queryset=Team.objects.all(), allow_null=True, required=False
    )
    assignee = IdOrSlugRelatedField(
        slug_field="username", queryset=User.objects.filter(is_active=True), allow_null=True, required=False
    )
    state = serializers.CharField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, default="")
    hold_reason = serializers.CharField(required=False, allow_blank=True, default="")
    resolution_code = serializers.CharField(required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if attrs["action"] == "transition" and not attrs.get("state"):
            raise serializers.ValidationError({"state": "Give the state to move the incidents to."})
        return attrs


class BulkResultSerializer(serializers.Serializer):
    done = serializers.ListField(child=serializers.IntegerField(), help_text="The incidents changed.")
    errors = serializers.DictField(child=serializers.CharField(), help_text="Incident id → why it was left as it was.")


class AttachmentSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField(help_text="The file, for API clients (token).")
    web_url = serializers.SerializerMethodField(help_text="The file, for a signed-in browser.")

    class Meta:
        model = Attachment
        fields = ["id", "name", "content_type", "size", "uploaded_by", "created_at", "download_url", "web_url"]

    def get_download_url(self, attachment) -> str:
        return api_reverse(
            "api:incident-attachment-download",
            args=[attachment.incident_id, attachment.pk],
            request=self.context.get("request"),
        )

    def get_web_url(self, attachment) -> str:
        try:
            return reverse("incidents:attachment_download", args=[attachment.pk])
        except NoReverseMatch:
            return ""


class TimelineEntrySerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=TimelineKind.choices, read_only=True)
    attachment = AttachmentSerializer(read_only=True, allow_null=True)

    class Meta:
        model = TimelineEntry
        fields = ["id", "time", "kind", "public", "author", "author_name", "body", "data", "attachment", "origin"]


class PriorityRuleSerializer(serializers.ModelSerializer):
    display = serializers.SerializerMethodField()
    priority_label = serializers.SerializerMethodField()

    class Meta:
        model = PriorityRule
        fields = ["id", "display", "impact", "urgency", "priority", "priority_label", "updated_at"]

    def get_display(self, rule) -> str:
        return str(rule)

    def get_priority_label(self, rule) -> str:
        return Priority(rule.priority).label


class CategorySerializer(ValidatedModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "display", "name", "description", "active", "created_at", "updated_at"]
