"""What change management is configured with, under ``/api/v1/changes/``:

- ``blackouts/`` — blackout windows (freezes); everyone reads, managers write;
- ``templates/`` — standard-change templates: agents write drafts (``changes.services.templates``);
  ``{id}/approve/`` (managers, never the author), ``{id}/revise/`` (a new draft version of an
  approved template), ``{id}/retire/`` (managers). Templates are retired, not deleted (405);
- ``risk-questions/`` — the risk questionnaire, each question with its ``options``; managers write;
- ``approval-policies/`` — type and risk level → ordered approval ``stages``; managers write.
"""

from django.db import transaction
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from changes.choices import ApproverKind, ChangeType, RiskLevel, TemplateState
from changes.filters import BlackoutWindowFilterSet, TemplateFilterSet
from changes.models import (
    ApprovalPolicy,
    ApprovalPolicyStage,
    BlackoutWindow,
    ChangeRequest,
    RiskOption,
    RiskQuestion,
    StandardChangeTemplate,
)
from changes.services import templates as services
from cmdb.api.serializers import IdOrSlugRelatedField
from cmdb.models import CI, CIClass
from incidents.api.serializers import team_field
from incidents.models import Category
from itom.api.exceptions import Conflict
from itom.api.serializers import ValidatedModelSerializer, web_url
from itom.api.viewsets import PortalModelViewSet
from itom.filters import BaseFilterSet

# --- serializers ------------------------------------------------------------------------------


def choice_field(name, choices, **kwargs):
    values = ", ".join(choices.values)
    return serializers.ChoiceField(
        choices=choices.choices,
        error_messages={"invalid_choice": f"{name} must be one of {values}; got “{{input}}”."},
        **kwargs,
    )


# --- blackout windows -------------------------------------------------------------------------


class BlackoutWindowSerializer(ValidatedModelSerializer):
    """A freeze. Global when it names no environment, class or service. The model refuses an end
    not after the start (``BlackoutWindow.clean``, run by ``ValidatedModelSerializer``)."""

    environment = serializers.ChoiceField(
        choices=[("", "Any"), *BlackoutWindow._meta.get_field("environment").choices], allow_blank=True, required=False
    )
    ci_classes = IdOrSlugRelatedField(
        queryset=CIClass.objects.all(), many=True, required=False, help_text="Ids or slugs (and their subclasses)."
    )
    business_services = serializers.PrimaryKeyRelatedField(
        queryset=CI.objects.filter(ci_class__is_business_service=True),
        many=True,
        required=False,
        help_text="Ids of business-service CIs.",
    )
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = BlackoutWindow
        fields = [
            "id",
            "display",
            "name",
            "start",
            "end",
            "reason",
            "environment",
            "ci_classes",
            "business_services",
            "active",
            "web_url",
            "created_at",
            "updated_at",
        ]

    def get_web_url(self, window) -> str:
        return web_url(window)


# --- standard change templates ----------------------------------------------------------------


class ChangeTemplateSerializer(serializers.ModelSerializer):
    """A version of a standard-change template. Drafts are written here, checked by
    ``changes.services.templates`` (a key given on an edit must be the template's); approving,
    revising and retiring have their own actions."""

    display = serializers.SerializerMethodField()
    key = serializers.SlugField(
        max_length=services.KEY_MAX,
        required=False,
        help_text="Identifies the template across versions; default: from the name.",
    )
    state = serializers.ChoiceField(choices=TemplateState.choices, read_only=True)
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all(), allow_null=True, required=False)
    assignment_team = team_field()
    risk_level = choice_field("risk_level", RiskLevel, required=False)
    ci_classes = IdOrSlugRelatedField(
        queryset=CIClass.objects.all(), many=True, required=False, help_text="Ids or slugs; empty: any class."
    )
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = StandardChangeTemplate
        fields = [
            "id",
            "display",
            "key",
            "version",
            "state",
            *services.EDITABLE_FIELDS,
            "author",
            "approved_by",
            "approved_at",
            "web_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["version", "state", "author", "approved_by", "approved_at"]
        validators = []  # key and version are allocated by changes.services.templates
        extra_kwargs = {
            "implementation_plan": {"required": False},
            "backout_plan": {"required": False},
            "name": {"required": False},
        }

    def get_display(self, template) -> str:
        return str(template)

    def get_web_url(self, template) -> str:
        return web_url(template)

    def validate(self, attrs):
        if self.instance is None and not attrs.get("name"):
            raise serializers.ValidationError({"name": ["Give the template a name."]})
        return attrs


class NestedRowsSerializer(ValidatedModelSerializer):
    """A model written with a list of rows of its own, the field ``nested``: the model's
    validation runs without the list (no model field); a write that gives the list replaces the
    rows (``write_rows``)."""

    nested = ""

    def validate(self, attrs):
        rows = attrs.pop(self.nested, None)
        attrs = super().validate(attrs)
        if rows is not None:
            attrs[self.nested] = rows
        return attrs

    @transaction.atomic
    def create(self, validated_data):
        rows = validated_data.pop(self.nested, [])
        obj = self.Meta.model.objects.create(**validated_data)
        self.write_rows(obj, rows)
        return obj

    @transaction.atomic
    def update(self, obj, validated_data):
        rows = validated_data.pop(self.nested, None)
        for name, value in validated_data.items():
            setattr(obj, name, value)
        obj.save()
        if rows is not None:
            self.write_rows(obj, rows)
        return obj

    def write_rows(self, obj, rows):
        """Replace ``obj``'s nested rows with ``rows`` — each subclass says how (abstract)."""
        raise NotImplementedError


# --- risk questionnaire -----------------------------------------------------------------------


class RiskOptionSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(
        required=False, help_text="Give it to change an existing option; leave it out to add one."
    )

    class Meta:
        model = RiskOption
        fields = ["id", "label", "score", "order"]
        extra_kwargs = {"order": {"required": False}}


class RiskQuestionSerializer(NestedRowsSerializer):
    """A question with its options. Writing ``options`` replaces the list: an option with an ``id``
    is changed, one without is added, one left out is removed (unless a change chose it: retire
    the question with ``active: false`` instead)."""

    options = RiskOptionSerializer(many=True, required=False)
    nested = "options"

    class Meta:
        model = RiskQuestion
        fields = ["id", "display", "text", "help_text", "order", "active", "options", "created_at", "updated_at"]

    def validate_options(self, options):
        if not options:
            raise serializers.ValidationError("A question needs at least one option.")
        ids = [item["id"] for item in options if item.get("id") is not None]
        if len(ids) != len(set(ids)):
            raise serializers.ValidationError("An option is listed twice.")
        return options

    def validate(self, attrs):
        if self.instance is None and not attrs.get("options"):
            raise serializers.ValidationError({"options": ["A question needs at least one option."]})
        return super().validate(attrs)

    def write_rows(self, question, options):
        existing = {option.pk: option for option in question.options.all()}
        unknown = [item["id"] for item in options if item.get("id") is not None and item["id"] not in existing]
        if unknown:
            raise serializers.ValidationError(
                {"options": [f"No option {', '.join(map(str, unknown))} on this question."]}
            )
        kept = {item["id"] for item in options if item.get("id") is not None}
        dropped = [option for pk, option in existing.items() if pk not in kept]
        chosen = ChangeRequest.risk_answers.through.objects.filter(riskoption_id__in=[o.pk for o in dropped])
        in_use = sorted({o.label for o in dropped if o.pk in set(chosen.values_list("riskoption_id", flat=True))})
        if in_use:
            names = "”, “".join(in_use)
            raise serializers.ValidationError(
                {"options": [f"Changes chose “{names}”: keep it, or retire the question (active: false)."]}
            )
        for option in dropped:
            option.delete()
        for position, item in enumerate(options, start=1):
            fields = {"label": item["label"], "score": item.get("score", 0), "order": item.get("order", position)}
            if item.get("id") is not None:
                option = existing[item["id"]]
                changed = [name for name, value in fields.items() if getattr(option, name) != value]
                if changed:
                    for name in changed:
                        setattr(option, name, fields[name])
                    option.save()
            else:
                RiskOption.objects.create(question=question, **fields)


# --- approval policies ------------------------------------------------------------------------


class ApprovalPolicyStageSerializer(serializers.ModelSerializer):
    approver_kind = choice_field("approver_kind", ApproverKind, required=False)
    approver_team = team_field(help_text="Id or name; required when approver_kind is team.")

    class Meta:
        model = ApprovalPolicyStage
        fields = ["id", "order", "name", "approver_kind", "approver_team", "required_approvals", "is_cab"]
        read_only_fields = ["id", "order"]
        extra_kwargs = {"required_approvals": {"min_value": 1, "max_value": 50}}

    def validate(self, attrs):
        kind = attrs.get("approver_kind", ApproverKind.TEAM)
        if kind == ApproverKind.TEAM and attrs.get("approver_team") is None:
            raise serializers.ValidationError({"approver_team": ["A stage approved by a team must name the team."]})
        if kind != ApproverKind.TEAM:
            attrs["approver_team"] = None
        return attrs


class ApprovalPolicySerializer(NestedRowsSerializer):
    """Which stages a change of a type (and risk level) goes through, in order. Writing
    ``stages`` replaces them (their ``order`` is their position); changes already in an approval
    round keep the stages they copied."""

    change_type = choice_field("change_type", ChangeType)
    risk_level = serializers.ChoiceField(
        choices=[("", "Any"), *RiskLevel.choices], allow_blank=True, required=False, help_text="Empty: any level."
    )
    stages = ApprovalPolicyStageSerializer(many=True, required=False)
    nested = "stages"

    class Meta:
        model = ApprovalPolicy
        fields = [
            "id",
            "display",
            "name",
            "change_type",
            "risk_level",
            "active",
            "description",
            "stages",
            "created_at",
            "updated_at",
        ]
        validators = []  # one active policy per type and risk: checked in validate(), naming risk_level

    def validate(self, attrs):
        change_type = attrs.get("change_type", getattr(self.instance, "change_type", None))
        if change_type == ChangeType.STANDARD:
            raise serializers.ValidationError(
                {"change_type": ["Standard changes are pre-approved by their template: they take no policy."]}
            )
        risk_level = attrs.get("risk_level", getattr(self.instance, "risk_level", ""))
        active = attrs.get("active", getattr(self.instance, "active", True))
        if active:
            twins = ApprovalPolicy.objects.filter(change_type=change_type, risk_level=risk_level, active=True)
            if self.instance is not None:
                twins = twins.exclude(pk=self.instance.pk)
            twin = twins.first()
            if twin is not None:
                level = RiskLevel(risk_level).label.lower() if risk_level else "any"
                message = f"“{twin}” is already the active policy for {change_type} changes of {level} risk."
                raise serializers.ValidationError({"risk_level": [message]})
        return super().validate(attrs)

    def write_rows(self, policy, stages):
        policy.stages.all().delete()
        for position, stage in enumerate(stages, start=1):
            ApprovalPolicyStage.objects.create(policy=policy, order=position, **stage)


# --- viewsets ---------------------------------------------------------------------------------


class BlackoutWindowViewSet(PortalModelViewSet):
    """Blackout windows: no change may be scheduled into one unless it is an emergency with a
    written justification. ``?during_after=&during_before=`` keeps those overlapping a period."""

    queryset = BlackoutWindow.objects.prefetch_related(
        Prefetch("ci_classes", queryset=CIClass.objects.only("id").order_by("id")),
        Prefetch("business_services", queryset=CI.objects.only("id").order_by("id")),
    )
    serializer_class = BlackoutWindowSerializer
    filterset_class = BlackoutWindowFilterSet
    ordering_fields = ["start", "end", "name", "created_at", "updated_at"]
    lookup_value_regex = r"\d+"


class TemplateViewSet(PortalModelViewSet):
    """Standard-change templates, every version (``?state=approved`` is the catalogue)."""

    queryset = StandardChangeTemplate.objects.prefetch_related(
        Prefetch("ci_classes", queryset=CIClass.objects.only("id").order_by("id"))
    )
    serializer_class = ChangeTemplateSerializer
    filterset_class = TemplateFilterSet
    ordering_fields = ["name", "key", "version", "state", "risk_level", "created_at", "updated_at"]
    lookup_value_regex = r"\d+"
    action_permissions = {"approve": "change", "revise": "add", "retire": "change"}
    http_method_names = ["get", "post", "put", "patch", "head", "options"]  # retired, never deleted

    def perform_create(self, serializer):
        serializer.instance = services.create_template(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = self._written = services.update_template(
            serializer.instance, user=self.request.user, **serializer.validated_data
        )

    def _answer(self, template, code=status.HTTP_200_OK):
        fresh = self.queryset.get(pk=template.pk)
        response = Response(self.get_serializer(fresh).data, status=code)
        return self._with_etag(response, fresh)

    @extend_schema(
        request=None,
        responses={
            200: ChangeTemplateSerializer,
            403: OpenApiResponse(description="Not a manager, or the template's author."),
            409: OpenApiResponse(description="Not a draft."),
        },
        summary="Approve a draft (managers)",
        description="It joins the catalogue; the version approved before it is retired.",
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._answer(services.approve_template(self.get_object(), user=request.user))

    @extend_schema(
        request=None,
        responses={201: ChangeTemplateSerializer, 409: OpenApiResponse(description="Not approved, or a draft exists.")},
        summary="Start the next version of an approved template",
        description="A new draft copying the approved version; approving it retires the old one.",
    )
    @action(detail=True, methods=["post"])
    def revise(self, request, pk=None):
        return self._answer(services.revise_template(self.get_object(), user=request.user), status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: ChangeTemplateSerializer, 403: OpenApiResponse(description="Not a manager.")},
        summary="Take a template version out of the catalogue (managers)",
    )
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        return self._answer(services.retire_template(self.get_object(), user=request.user))


class RiskQuestionFilterSet(BaseFilterSet):
    search_fields = ("text", "help_text")

    class Meta:
        model = RiskQuestion
        fields = ["id", "q", "active"]


class RiskQuestionViewSet(PortalModelViewSet):
    """The risk questionnaire. A question answered by a change is not deleted (409): retire it
    with ``active: false``, and the answers given stay."""

    queryset = RiskQuestion.objects.prefetch_related(
        Prefetch("options", queryset=RiskOption.objects.order_by("order", "id"))
    )
    serializer_class = RiskQuestionSerializer
    filterset_class = RiskQuestionFilterSet
    ordering_fields = ["order", "text", "created_at", "updated_at"]
    lookup_value_regex = r"\d+"

    def perform_destroy(self, question):
        answered = ChangeRequest.risk_answers.through.objects.filter(riskoption__question=question).exists()
        if answered:
            raise Conflict("Changes answered this question: retire it with active: false instead.")
        question.delete()


class ApprovalPolicyFilterSet(BaseFilterSet):
    search_fields = ("name", "description")

    class Meta:
        model = ApprovalPolicy
        fields = ["id", "q", "change_type", "risk_level", "active"]


class ApprovalPolicyViewSet(PortalModelViewSet):
    """Approval policies: the stages a change of a type and risk level goes through."""

    queryset = ApprovalPolicy.objects.prefetch_related(
        Prefetch("stages", queryset=ApprovalPolicyStage.objects.select_related("approver_team").order_by("order"))
    )
    serializer_class = ApprovalPolicySerializer
    filterset_class = ApprovalPolicyFilterSet
    ordering_fields = ["name", "change_type", "risk_level", "created_at", "updated_at"]
    lookup_value_regex = r"\d+"
