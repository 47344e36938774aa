"""The CMDB: classes with attribute schemas, configuration items, typed relationships, tags."""

import ipaddress
import re

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.urls import reverse

from cmdb.choices import AttributeType, Criticality, Environment, Status
from itom.models import ChangeLoggedModel

HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$")
validate_identifier = RegexValidator(
    r"^[a-z][a-z0-9_]{0,62}$", "Use lower-case letters, digits and underscores, starting with a letter."
)


class CIClassQuerySet(models.QuerySet):
    def parents_by_id(self):
        """``{id: parent_id}`` for every class, in one query (classes number in the hundreds)."""
        return dict(self.model._base_manager.values_list("id", "parent_id"))

    def descendant_ids(self, class_id, parents=None):
        """The ids of ``class_id`` and every class below it."""
        children = {}
        for pk, parent in (parents if parents is not None else self.parents_by_id()).items():
            children.setdefault(parent, []).append(pk)
        found, pending = [], [class_id]
        while pending:
            pk = pending.pop()
            if pk in found:
                continue
            found.append(pk)
            pending.extend(children.get(pk, ()))
        return found

    def attributes_around(self, parent_id, class_id=None, names=None):
        """``{name: defining class}`` of the attributes a class placed below ``parent_id`` shares
        its hierarchy with: those ``parent_id`` and its ancestors define, and those of the
        subclasses of ``class_id`` (the class's own left out). An attribute of the class may use
        none of these names. ``names`` narrows the answer. Two queries."""
        parents = self.parents_by_id()
        ids, pk = set(), parent_id
        while pk is not None and pk not in ids:
            ids.add(pk)
            pk = parents.get(pk)
        if class_id is not None:
            ids.update(pk for pk in self.descendant_ids(class_id, parents) if pk != class_id)
        definitions = AttributeDefinition._base_manager.filter(ci_class_id__in=ids).select_related("ci_class")
        if names is not None:
            definitions = definitions.filter(name__in=list(names))
        return {definition.name: definition.ci_class for definition in definitions}


class CIClass(ChangeLoggedModel):
    """A kind of CI (Hardware › Server › Linux server). Attributes defined on a class apply to
    its subclasses too; a class marked as a business service makes its subclasses ones too."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True, help_text="The class's key in imports and the API.")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name="parent class"
    )
    description = models.TextField(blank=True)
    is_business_service = models.BooleanField(
        default=False,
        verbose_name="business service",
        help_text="CIs of this class are business services: impact analysis lists them apart.",
    )

    objects = CIClassQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = "CI class"
        verbose_name_plural = "CI classes"

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("cmdb:ciclass_detail", args=[self.pk])

    def ancestor_ids(self):
        """This class's id and its ancestors' ids, nearest first (one query)."""
        parents = CIClass.objects.parents_by_id()
        chain, pk = [], self.pk
        if pk is None:
            chain.append(None)
            pk = self.parent_id
        while pk is not None and pk not in chain:
            chain.append(pk)
            pk = parents.get(pk)
        return [pk for pk in chain if pk is not None]

    def path(self):
        """``[root, …, self]`` as classes (for the breadcrumb)."""
        ids = self.ancestor_ids()
        by_id = CIClass._base_manager.in_bulk(ids)
        return [by_id[pk] for pk in reversed(ids) if pk in by_id]

    def effective_attributes(self):
        """The attribute definitions that apply to this class: inherited ones first. Two queries,
        none on an instance whose schema is pinned (``pin_schema``)."""
        pinned = self.__dict__.get("_pinned_schema")
        if pinned is not None:
            return list(pinned)
        ids = self.ancestor_ids()
        rank = {pk: -i for i, pk in enumerate(ids)}
        definitions = list(AttributeDefinition._base_manager.filter(ci_class_id__in=ids))
        definitions.sort(key=lambda d: (rank[d.ci_class_id], d.order, d.name))
        return definitions

    def pin_schema(self):
        """Read this class's ``effective_attributes`` once and keep them on this instance: for a
        bulk import, whose class instances live for its one transaction (``CI.clean`` asks for
        the schema on every row). Nothing else pins a class, so no other caller sees a stale
        schema; ``refresh_from_db`` unpins."""
        self.__dict__.pop("_pinned_schema", None)
        self._pinned_schema = tuple(self.effective_attributes())
        return list(self._pinned_schema)

    def refresh_from_db(self, *args, **kwargs):
        self.__dict__.pop("_pinned_schema", None)
        super().refresh_from_db(*args, **kwargs)

    def clean(self):
        if self.parent_id is not None:
            if self.pk is not None and self.pk in CIClass(pk=self.parent_id).ancestor_ids():
                raise ValidationError({"parent": "A class can't be placed below itself or one of its subclasses."})
            if self.parent.is_business_service:
                self.is_business_service = True
            if self.pk is not None:
                self._check_inherited_names()

    def _check_inherited_names(self):
        """Below its parent, the class (and its subclasses) must not define an attribute it would
        inherit."""
        above = CIClass.objects.attributes_around(self.parent_id)
        below = AttributeDefinition._base_manager.filter(
            ci_class_id__in=CIClass.objects.descendant_ids(self.pk), name__in=list(above)
        ).select_related("ci_class")
        clashes = [f"“{above[d.name]}” already defines “{d.name}”, which “{d.ci_class}” defines too." for d in below]
        if clashes:
            raise ValidationError({"parent": clashes})


class AttributeDefinition(ChangeLoggedModel):
    """One typed attribute in a class's schema."""

    ci_class = models.ForeignKey(
        CIClass, on_delete=models.CASCADE, related_name="attribute_definitions", verbose_name="CI class"
    )
    name = models.CharField(max_length=63, validators=[validate_identifier], help_text="The key in a CI's attributes.")
    label = models.CharField(max_length=100, blank=True)
    type = models.CharField(max_length=10, choices=AttributeType.choices, default=AttributeType.STRING)
    required = models.BooleanField(default=False)
    choices = models.JSONField(default=list, blank=True, help_text="The allowed values of a choice attribute.")
    help_text = models.CharField(max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["ci_class", "order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["ci_class", "name"], name="cmdb_attribute_unique_name_per_class"),
        ]

    def __str__(self):
        return f"{self.ci_class}: {self.name}"

    @property
    def display_label(self):
        return self.label or self.name.replace("_", " ").capitalize()

    def clean(self):
        errors = {}
        if self.type == AttributeType.CHOICE:
            if (
                not isinstance(self.choices, list)
                or not self.choices
                or not all(isinstance(c, str) and c for c in self.choices)
            ):
                errors["choices"] = "A choice attribute needs a list of allowed values (non-empty text)."
            elif len(set(self.choices)) != len(self.choices):
                errors["choices"] = "The allowed values must be distinct."
        elif self.choices:
            errors["choices"] = "Only a choice attribute has allowed values."
        if self.ci_class_id and self.name:
            # The same name twice in one class is the unique constraint's to refuse.
            clash = CIClass.objects.attributes_around(self.ci_class.parent_id, self.ci_class_id, names=[self.name]).get(
                self.name
            )
            if clash is not None:
                errors["name"] = f"Class “{clash}” already defines “{self.name}” in this hierarchy."
        if errors:
            raise ValidationError(errors)


class Tag(ChangeLoggedModel):
    name = models.CharField(max_length=50, unique=True, validators=[RegexValidator(r"^[\w.:-]+$")])
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("cmdb:tag_detail", args=[self.pk])


def validate_hostname(value):
    if not HOSTNAME_RE.match(value):
        raise ValidationError(f"“{value}” is not a valid host name or FQDN.", code="invalid")


def normalise_ip_addresses(value):
    """A list of IP addresses (or one comma/space separated string) as normalised, distinct strings.
    Raises ``ValidationError`` naming each malformed address."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [part for part in re.split(r"[\s,;]+", value) if part]
    if not isinstance(value, list):
        raise ValidationError("Must be a list of IP addresses.")
    found, bad = [], []
    for item in value:
        try:
            address = str(ipaddress.ip_address(str(item).strip()))
        except ValueError:
            bad.append(str(item))
            continue
        if address not in found:
            found.append(address)
    if bad:
        raise ValidationError(
            f"Not a valid IPv4 or IPv6 address: {', '.join(repr(b) for b in bad)}.", code="invalid_ip"
        )
    return found


class CI(ChangeLoggedModel):
    """A configuration item. ``attributes`` holds the class-specific values, validated against
    the class's schema (``cmdb.schema``)."""

    name = models.CharField(max_length=200)
    ci_class = models.ForeignKey(CIClass, on_delete=models.PROTECT, related_name="cis", verbose_name="class")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    environment = models.CharField(
        max_length=20, choices=Environment.choices, default=Environment.PRODUCTION, db_index=True
    )
    criticality = models.PositiveSmallIntegerField(choices=Criticality.choices, default=Criticality.MEDIUM)
    owner_team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="cis"
    )
    location = models.CharField(max_length=200, blank=True)
    fqdn = models.CharField(max_length=253, blank=True, validators=[validate_hostname], verbose_name="FQDN / hostname")
    ip_addresses = models.JSONField(default=list, blank=True, verbose_name="IP addresses")
    serial_number = models.CharField(max_length=100, blank=True)
    asset_tag = models.CharField(max_length=100, blank=True)
    manufacturer = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=100, blank=True)
    operating_system = models.CharField(max_length=100, blank=True)
    install_date = models.DateField(null=True, blank=True)
    warranty_end = models.DateField(null=True, blank=True)
    end_of_life = models.DateField(null=True, blank=True, verbose_name="end of life")
    description = models.TextField(blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="cis")
    attributes = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(
        max_length=200, blank=True, help_text="The CI's key in another system (for imports)."
    )

    # The asset-management fields, listed together by forms, the API, imports and the admin.
    ASSET_FIELDS = (
        "serial_number",
        "asset_tag",
        "manufacturer",
        "model",
        "operating_system",
        "install_date",
        "warranty_end",
        "end_of_life",
    )

    # A violated constraint is reported on this field (see validate_constraints).
    CONSTRAINT_FIELDS = {
        "cmdb_ci_unique_name_per_class": "name",
        "cmdb_ci_unique_serial": "serial_number",
        "cmdb_ci_unique_fqdn_per_environment": "fqdn",
        "cmdb_ci_unique_external_id": "external_id",
    }

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "configuration item"
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                "ci_class",
                name="cmdb_ci_unique_name_per_class",
                violation_error_message="A CI of this class with this name already exists.",
            ),
            models.UniqueConstraint(
                "serial_number",
                condition=~Q(serial_number=""),
                name="cmdb_ci_unique_serial",
                violation_error_message="Another CI has this serial number.",
            ),
            models.UniqueConstraint(
                Lower("fqdn"),
                "environment",
                condition=~Q(fqdn=""),
                name="cmdb_ci_unique_fqdn_per_environment",
                violation_error_message="Another CI in this environment has this FQDN.",
            ),
            models.UniqueConstraint(
                "external_id",
                condition=~Q(external_id=""),
                name="cmdb_ci_unique_external_id",
                violation_error_message="Another CI has this external id.",
            ),
            models.CheckConstraint(
                condition=Q(criticality__gte=1, criticality__lte=4), name="cmdb_ci_criticality_range"
            ),
        ]
        indexes = [
            models.Index(fields=["ci_class", "name"]),
            models.Index(fields=["owner_team", "name"]),
            # The default ordering: a list page is an index scan, not a sort of every CI.
            models.Index(fields=["name", "id"], name="cmdb_ci_name_id_idx"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("cmdb:ci_detail", args=[self.pk])

    @property
    def ansible_host(self):
        """Where Ansible connects: the FQDN, else the first IP address, else the name."""
        return self.fqdn or (self.ip_addresses[0] if self.ip_addresses else self.name)

    def clean(self):
        from cmdb.schema import validate_attributes

        errors = {}
        try:
            self.ip_addresses = normalise_ip_addresses(self.ip_addresses)
        except ValidationError as exc:
            errors["ip_addresses"] = exc.messages
        self.fqdn = (self.fqdn or "").strip().rstrip(".").lower()
        if self.ci_class_id is not None:
            try:
                self.attributes = validate_attributes(
                    self.attributes, self.ci_class.effective_attributes(), self.ci_class.name
                )
            except ValidationError as exc:
                errors.update(exc.message_dict)
        if errors:
            raise ValidationError(errors)

    def validate_constraints(self, exclude=None):
        """Django checks each constraint with a query of its own (three, with the savepoint it
        takes inside a transaction): a dozen queries per CI saved. One query first asks whether
        the CI could break any (``may_break_a_constraint``); only then do Django's checks run,
        to name the rule broken on its field."""
        if not exclude and not self.may_break_a_constraint():
            return
        try:
            super().validate_constraints(exclude)
        except ValidationError as exc:
            raise ValidationError(_constraint_errors_by_field(exc, type(self))) from None

    def may_break_a_constraint(self):
        """Whether another CI shares one of this CI's unique keys, or the criticality is out of
        range: ``Meta.constraints`` in one query (tests/cmdb/test_models.py keeps the two in step)."""
        if not isinstance(self.criticality, int) or not 1 <= self.criticality <= 4:
            return True
        rules = Q(Exact(Lower("name"), Lower(Value(self.name))), ci_class_id=self.ci_class_id)
        if self.serial_number:
            rules |= Q(serial_number=self.serial_number)
        if self.fqdn:
            rules |= Q(Exact(Lower("fqdn"), Lower(Value(self.fqdn))), environment=self.environment)
        if self.external_id:
            rules |= Q(external_id=self.external_id)
        others = CI._base_manager.all() if self._state.adding else CI._base_manager.exclude(pk=self.pk)
        return others.filter(rules).exists()


def _constraint_errors_by_field(exc, model):
    """Move constraint violations reported for the object as a whole onto the field they concern
    (``model.CONSTRAINT_FIELDS``), so the API's 400 and the form name the field."""
    field_of = {
        str(c.violation_error_message): model.CONSTRAINT_FIELDS[c.name]
        for c in model._meta.constraints
        if c.name in model.CONSTRAINT_FIELDS
    }
    by_field = {}
    for field, errors in exc.error_dict.items():
        for message in ValidationError(errors).messages:
            target = field_of.get(message, field) if field == NON_FIELD_ERRORS else field
            by_field.setdefault(target, []).append(message)
    return by_field


class RelationshipType(ChangeLoggedModel):
    """A kind of link between two CIs, read "source <forward label> target" (app *depends on* db)
    and "target <reverse label> source" (db *used by* app). When ``propagates_failure`` is set, a
    failing target affects its sources: impact analysis follows the link."""

    slug = models.SlugField(max_length=50, unique=True, help_text="The type's key in imports and the API.")
    forward_label = models.CharField(max_length=50, help_text="Source → target, e.g. “depends on”.")
    reverse_label = models.CharField(max_length=50, help_text="Target → source, e.g. “used by”.")
    propagates_failure = models.BooleanField(
        default=True, help_text="A failure of the target affects the source (followed by impact analysis)."
    )
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["forward_label"]

    def __str__(self):
        return f"{self.forward_label} / {self.reverse_label}"

    def get_absolute_url(self):
        return reverse("cmdb:relationshiptype_detail", args=[self.pk])


class Relationship(ChangeLoggedModel):
    """``source`` —type→ ``target``, e.g. “billing-app depends on billing-db”."""

    source = models.ForeignKey(CI, on_delete=models.CASCADE, related_name="outgoing")
    type = models.ForeignKey(RelationshipType, on_delete=models.PROTECT, related_name="relationships")
    target = models.ForeignKey(CI, on_delete=models.CASCADE, related_name="incoming")
    description = models.CharField(max_length=200, blank=True)

    CONSTRAINT_FIELDS = {
        "cmdb_relationship_unique": "target",
        "cmdb_relationship_not_self": "target",
    }

    class Meta:
        ordering = ["source__name", "type__forward_label", "target__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "target", "type"],
                name="cmdb_relationship_unique",
                violation_error_message="These two CIs are already related this way.",
            ),
            models.CheckConstraint(
                condition=~Q(source=F("target")),
                name="cmdb_relationship_not_self",
                violation_error_message="A CI can't be related to itself.",
            ),
        ]
        indexes = [models.Index(fields=["target", "type"])]

    def __str__(self):
        return f"{self.source} {self.type.forward_label} {self.target}"

    def get_absolute_url(self):
        return self.source.get_absolute_url()

    def clean(self):
        if self.source_id is not None and self.source_id == self.target_id:
            raise ValidationError({"target": "A CI can't be related to itself."})

    def validate_constraints(self, exclude=None):
        try:
            super().validate_constraints(exclude)
        except ValidationError as exc:
            raise ValidationError(_constraint_errors_by_field(exc, type(self))) from None
