"""Serializers of the CMDB resources (``/api/v1/cmdb/``).

Related objects are read as ids and written as an id or a slug (``"ci_class": "linux-server"``,
``"type": "runs-on"``); tags as a list of names. Writes are validated here (field types, the
model's ``full_clean`` through ``ValidatedModelSerializer``) and saved by ``cmdb.services`` in the
viewsets.
"""

import re
from collections import defaultdict

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from cmdb.choices import Direction
from cmdb.models import CI, AttributeDefinition, CIClass, Relationship, RelationshipType, Tag
from cmdb.selectors import DEFAULT_DEPTH, MAX_DEPTH
from itom.api.serializers import ValidatedModelSerializer

TAG_NAME_RE = re.compile(r"^[\w.:-]+$")


class IdOrSlugRelatedField(serializers.PrimaryKeyRelatedField):
    """A related object read as its id and written as its id or its slug."""

    default_error_messages = {
        "does_not_exist": "Unknown {model} “{value}”: give an id or a slug.",
        "incorrect_type": "Give an id or a slug, not {data_type}.",
    }

    def __init__(self, slug_field="slug", **kwargs):
        self.slug_field = slug_field
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        queryset = self.get_queryset()
        model = queryset.model._meta.verbose_name
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("incorrect_type", data_type=type(data).__name__)
        text = str(data).strip()
        lookup = {"pk": int(text)} if text.isdigit() else {self.slug_field: text}
        try:
            return queryset.get(**lookup)
        except queryset.model.DoesNotExist:
            self.fail("does_not_exist", model=model, value=text)


class IdOrSlugFieldExtension(OpenApiSerializerFieldExtension):
    """OpenAPI: an integer in responses, an integer or a slug in requests."""

    target_class = IdOrSlugRelatedField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        if direction == "response":
            return {"type": "integer"}
        return {"oneOf": [{"type": "integer"}, {"type": "string"}]}


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class TagListField(serializers.Field):
    """Tags as a list of names; unknown names are created when the CI is saved."""

    default_error_messages = {
        "not_a_list": "Expected a list of tag names.",
        "invalid": "“{name}” is not a valid tag name (letters, digits, and . _ : - only; at most 50 characters).",
    }

    def to_representation(self, value):
        return [tag.name for tag in value.all()]

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list")
        names = []
        for item in data:
            name = str(item).strip() if isinstance(item, (str, int)) and not isinstance(item, bool) else None
            if not name or len(name) > 50 or not TAG_NAME_RE.match(name):
                self.fail("invalid", name=item)
            if name.lower() not in (n.lower() for n in names):
                names.append(name)
        return names


# --- classes ------------------------------------------------------------------------------


class BriefCIClassSerializer(serializers.ModelSerializer):
    class Meta:
        model = CIClass
        fields = ["id", "name", "slug"]


class AttributeDefinitionSerializer(serializers.ModelSerializer):
    """One attribute of a class's own schema. ``order`` defaults to the item's position."""

    choices = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, help_text="The allowed values (choice only)."
    )
    order = serializers.IntegerField(min_value=0, max_value=32767, required=False)

    class Meta:
        model = AttributeDefinition
        fields = ["name", "label", "type", "required", "choices", "help_text", "order"]


class EffectiveAttributeSerializer(AttributeDefinitionSerializer):
    """An attribute that applies to a class, with the class that defines it."""

    ci_class = BriefCIClassSerializer(read_only=True, help_text="The class that defines the attribute.")
    inherited = serializers.SerializerMethodField(help_text="Defined by an ancestor class.")

    class Meta(AttributeDefinitionSerializer.Meta):
        fields = AttributeDefinitionSerializer.Meta.fields + ["ci_class", "inherited"]

    def get_inherited(self, definition) -> bool:
        return definition.ci_class_id != self.context.get("effective_for")


class CIClassSerializer(ValidatedModelSerializer):
    """A class. A write that includes ``attributes`` replaces the class's own schema (attributes
    left out are deleted); ``effective_attributes`` adds what the class inherits."""

    parent = IdOrSlugRelatedField(queryset=CIClass.objects.all(), allow_null=True, required=False)
    attributes = AttributeDefinitionSerializer(
        source="attribute_definitions", many=True, required=False, help_text="The class's own attribute schema."
    )
    effective_attributes = serializers.SerializerMethodField(
        help_text="Every attribute that applies to the class: inherited ones first."
    )

    class Meta:
        model = CIClass
        fields = [
            "id",
            "display",
            "name",
            "slug",
            "parent",
            "description",
            "is_business_service",
            "attributes",
            "effective_attributes",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(EffectiveAttributeSerializer(many=True))
    def get_effective_attributes(self, ci_class):
        classes, definitions = self._schema_index()
        chain, pk = [], ci_class.pk
        while pk is not None and pk not in chain:
            chain.append(pk)
            pk = classes[pk][0] if pk in classes else None
        found = []
        for pk in reversed(chain):
            for definition in definitions.get(pk, ()):
                definition.ci_class = classes[pk][1]
                found.append(definition)
        return EffectiveAttributeSerializer(found, many=True, context={"effective_for": ci_class.pk}).data

    def _schema_index(self):
        """Every class's parent and own definitions, read once per response (two queries)."""
        index = self.context.get("_cmdb_schema_index")
        if index is None:
            classes = {c.pk: (c.parent_id, c) for c in CIClass.objects.only("id", "name", "slug", "parent_id")}
            definitions = defaultdict(list)
            for definition in AttributeDefinition.objects.order_by("order", "name"):
                definitions[definition.ci_class_id].append(definition)
            index = self.context["_cmdb_schema_index"] = (classes, definitions)
        return index

    def validate(self, attrs):
        items = attrs.pop("attribute_definitions", None)
        attrs = super().validate(attrs)
        parent = attrs["parent"] if "parent" in attrs else getattr(self.instance, "parent", None)
        if items is not None:
            attrs["attribute_definitions"] = self._definitions(items, parent)
        return attrs

    # What an item leaves out is reset, so a write replaces the schema rather than merging into it.
    fields_reset = ("label", "type", "required", "choices", "help_text")

    def _definitions(self, items, parent):
        """``AttributeDefinition``s for the new own schema (existing ones, matched by name, keep
        their id), or a 400 naming each bad item by its position, as DRF does for nested lists:
        ``{"attributes": {"1": {"name": [...]}}}``."""
        pk = getattr(self.instance, "pk", None)
        existing = {d.name: d for d in AttributeDefinition.objects.filter(ci_class_id=pk)} if pk else {}
        around = CIClass.objects.attributes_around(getattr(parent, "pk", None), pk)
        defaults = {name: AttributeDefinition._meta.get_field(name).get_default() for name in self.fields_reset}
        definitions, errors, seen = [], {}, set()
        for position, item in enumerate(items):
            fields = defaults | {"order": position} | dict(item)
            item_errors = {}
            probe = AttributeDefinition(**fields)
            try:
                probe.full_clean(exclude=["ci_class"])
            except DjangoValidationError as exc:
                item_errors.update(exc.message_dict)
            name = fields["name"]
            clash = around.get(name)
            if name in seen:
                item_errors.setdefault("name", []).append(f"“{name}” appears more than once.")
            elif clash is not None:
                item_errors.setdefault("name", []).append(
                    f"Class “{clash}” already defines “{name}” in this hierarchy."
                )
            seen.add(name)
            if item_errors:
                errors[str(position)] = item_errors
            definition = existing.get(name) or AttributeDefinition()
            for field, value in fields.items():
                setattr(definition, field, value)
            definitions.append(definition)
        if errors:
            raise serializers.ValidationError({"attributes": errors})
        return definitions


# --- relationship types, tags ----------------------------------------------------------------


class RelationshipTypeSerializer(ValidatedModelSerializer):
    class Meta:
        model = RelationshipType
        fields = [
            "id",
            "display",
            "slug",
            "forward_label",
            "reverse_label",
            "propagates_failure",
            "description",
            "created_at",
            "updated_at",
        ]


class TagSerializer(ValidatedModelSerializer):
    ci_count = serializers.SerializerMethodField(help_text="How many CIs carry the tag.")

    class Meta:
        model = Tag
        fields = ["id", "display", "name", "description", "ci_count", "created_at", "updated_at"]

    def get_ci_count(self, tag) -> int:
        count = getattr(tag, "ci_count", None)  # annotated on lists
        return tag.cis.count() if count is None else count


# --- CIs ------------------------------------------------------------------------------------


class CISerializer(ValidatedModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:cmdb-ci-detail")
    ci_class = IdOrSlugRelatedField(
        queryset=CIClass.objects.all(), help_text="The class: its id, or its slug when writing."
    )
    ci_class_name = serializers.CharField(source="ci_class.name", read_only=True)
    owner_team_name = serializers.CharField(source="owner_team.name", read_only=True, default=None)
    ip_addresses = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        help_text="IPv4 and IPv6 addresses; stored normalised and distinct.",
    )
    tags = TagListField(required=False, help_text="Tag names; unknown names are created.")
    attributes = serializers.DictField(
        required=False, help_text="Class-specific values, validated against the class's effective attributes."
    )

    class Meta:
        model = CI
        fields = [
            "id",
            "url",
            "display",
            "name",
            "ci_class",
            "ci_class_name",
            "status",
            "environment",
            "criticality",
            "owner_team",
            "owner_team_name",
            "location",
            "fqdn",
            "ip_addresses",
            *CI.ASSET_FIELDS,
            "description",
            "tags",
            "attributes",
            "external_id",
            "created_at",
            "updated_at",
        ]


class BriefCISerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


# --- relationships --------------------------------------------------------------------------


class RelationshipSerializer(ValidatedModelSerializer):
    """``source`` —``type``→ ``target``, read as “source_name label target_name”."""

    type = IdOrSlugRelatedField(queryset=RelationshipType.objects.all(), help_text="Its id, or its slug when writing.")
    type_slug = serializers.CharField(source="type.slug", read_only=True)
    source_name = serializers.CharField(source="source.name", read_only=True)
    target_name = serializers.CharField(source="target.name", read_only=True)
    label = serializers.CharField(source="type.forward_label", read_only=True, help_text="Source → target.")
    reverse_label = serializers.CharField(source="type.reverse_label", read_only=True, help_text="Target → source.")

    class Meta:
        model = Relationship
        fields = [
            "id",
            "display",
            "source",
            "source_name",
            "type",
            "type_slug",
            "label",
            "reverse_label",
            "target",
            "target_name",
            "description",
            "created_at",
            "updated_at",
        ]
        # Duplicates are the model's to report (on ``target``, with its message), not DRF's.
        validators = []


class RelatedCISerializer(BriefCISerializer):
    ci_class = serializers.IntegerField(source="ci_class_id")
    ci_class_name = serializers.CharField(source="ci_class.name")


class CIRelationshipSerializer(serializers.Serializer):
    """A relationship as seen from one CI: ``<this CI> label <ci>``. The view sets ``direction``,
    ``label`` and ``other`` on each relationship."""

    id = serializers.IntegerField()
    direction = serializers.ChoiceField(
        choices=["outgoing", "incoming"], help_text="outgoing: this CI is the source; incoming: the target."
    )
    type = serializers.IntegerField(source="type_id")
    type_slug = serializers.CharField(source="type.slug")
    label = serializers.CharField(help_text="Read from this CI towards the other, e.g. “runs on” or “hosts”.")
    ci = RelatedCISerializer(source="other", help_text="The CI at the other end.")
    description = serializers.CharField()


# --- impact ---------------------------------------------------------------------------------


class ImpactQuerySerializer(serializers.Serializer):
    """The impact endpoint's query parameters."""

    direction = serializers.ChoiceField(
        choices=Direction.choices,
        default=Direction.DOWNSTREAM,
        help_text="downstream: what is affected when this CI fails; upstream: what it needs.",
    )
    depth = serializers.IntegerField(
        min_value=1, max_value=MAX_DEPTH, default=DEFAULT_DEPTH, help_text="How many hops to follow."
    )


class HopSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    via = serializers.CharField(help_text="The relationship label that led here (empty for the start).")


class ImpactedCISerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.SerializerMethodField()
    ci_class = serializers.IntegerField(source="ci_class_id")
    ci_class_name = serializers.CharField(source="ci_class")
    status = serializers.CharField()
    environment = serializers.CharField()
    criticality = serializers.IntegerField()
    owner_team = serializers.IntegerField(source="owner_team_id", allow_null=True)
    is_business_service = serializers.BooleanField()
    depth = serializers.IntegerField(help_text="Hops from the analysed CI (shortest).")
    path = HopSerializer(many=True, help_text="One shortest path from the analysed CI to this one.")

    def get_url(self, result) -> str:
        return reverse("api:cmdb-ci-detail", args=[result.id], request=self.context.get("request"))


class ImpactSerializer(serializers.Serializer):
    ci = BriefCISerializer(help_text="The analysed CI.")
    direction = serializers.CharField()
    depth = serializers.IntegerField(source="depth_limit", help_text="The depth limit applied.")
    count = serializers.SerializerMethodField()
    business_services = ImpactedCISerializer(many=True, help_text="The affected business services.")
    results = ImpactedCISerializer(many=True, help_text="Every affected CI, nearest first.")

    def get_count(self, impact) -> int:
        return len(impact.results)
