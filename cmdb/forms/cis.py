"""Forms of the CI pages: the CI form (with the class's attributes as typed fields), the inline
relationship form and the impact form."""

import re
from types import SimpleNamespace

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.urls import reverse

from accounts.models import Team
from cmdb import schema
from cmdb.choices import AttributeType, Direction
from cmdb.models import CI, CIClass, RelationshipType, Tag, normalise_ip_addresses
from cmdb.selectors import DEFAULT_DEPTH, MAX_DEPTH

ATTRIBUTE_PREFIX = "attr_"
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def attribute_field(definition):
    """The typed form field for one attribute definition (``cmdb.models.AttributeDefinition``)."""
    options = {"label": definition.display_label, "help_text": definition.help_text, "required": definition.required}
    kind = definition.type
    if kind == AttributeType.INTEGER:
        return forms.IntegerField(**options)
    if kind == AttributeType.NUMBER:
        return forms.FloatField(**options)
    if kind == AttributeType.BOOLEAN:
        # Tri-state: unknown / yes / no. A required one is checked in CIForm.clean.
        return forms.NullBooleanField(**(options | {"required": False}))
    if kind == AttributeType.DATE:
        return forms.DateField(widget=DATE_INPUT, **options)
    if kind == AttributeType.CHOICE:
        return forms.ChoiceField(choices=[("", "—")] + [(c, c) for c in definition.choices or []], **options)
    if kind == AttributeType.IP:
        return forms.GenericIPAddressField(**options)
    return forms.CharField(max_length=500, **options)


class CIForm(forms.ModelForm):
    """Every CI field; ``ip_addresses`` and ``tags`` as text; the class's attributes (own and
    inherited) as typed fields named ``attr_<name>``. The class comes from the submitted data
    (or ``ci_class``, or the CI's), so a switch of class brings the new class's fields."""

    ip_addresses = forms.CharField(
        required=False,
        label="IP addresses",
        help_text="IPv4 or IPv6 addresses, separated by spaces or commas.",
    )
    tags = forms.CharField(
        required=False,
        help_text="Tag names separated by commas; unknown names become new tags.",
    )

    field_order = ["name", "ci_class", "status", "environment", "criticality", "owner_team", "tags"]

    class Meta:
        model = CI
        fields = [
            "name",
            "ci_class",
            "status",
            "environment",
            "criticality",
            "owner_team",
            "description",
            "fqdn",
            "ip_addresses",
            "location",
            *CI.ASSET_FIELDS,
            "external_id",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "install_date": DATE_INPUT,
            "warranty_end": DATE_INPUT,
            "end_of_life": DATE_INPUT,
        }

    def __init__(self, *args, ci_class=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner_team"].queryset = Team.objects.order_by("name")
        self.fields["ci_class"].widget.attrs.update(
            {
                "hx-get": reverse("cmdb:ci_attribute_fields"),
                "hx-trigger": "change",
                "hx-target": "#ci-attribute-fields",
                "hx-include": f"[name^='{self.add_prefix(ATTRIBUTE_PREFIX)}']",
            }
        )
        if isinstance(self.initial.get("ip_addresses"), list):
            self.initial["ip_addresses"] = ", ".join(self.initial["ip_addresses"])
        if self.instance.pk and "tags" not in self.initial:
            self.initial["tags"] = ", ".join(tag.name for tag in self.instance.tags.all())
        self.chosen_class = ci_class if ci_class is not None else self._chosen_class()
        self.attribute_definitions = self.chosen_class.effective_attributes() if self.chosen_class else []
        values = self.instance.attributes or {}
        for definition in self.attribute_definitions:
            name = ATTRIBUTE_PREFIX + definition.name
            self.fields[name] = attribute_field(definition)
            if definition.name in values:
                self.initial.setdefault(name, values[definition.name])

    def _chosen_class(self):
        """The class whose attributes the form shows: the submitted one, else the initial one,
        else the CI's."""
        field = self.fields["ci_class"]
        if self.is_bound:
            raw = self.data.get(self.add_prefix("ci_class"))
        else:
            raw = self.initial.get("ci_class")
        if isinstance(raw, CIClass):
            return raw
        if raw not in (None, ""):
            try:
                return field.to_python(raw)
            except ValidationError:
                return None
        return self.instance.ci_class if self.instance.ci_class_id else None

    # The page's two sections, each shaped like a form for generic/_form_fields.html --------------
    def main_part(self):
        fields = [self[name] for name in self.fields if not name.startswith(ATTRIBUTE_PREFIX)]
        return SimpleNamespace(
            non_field_errors=[],  # shown above the section, outside its grid
            hidden_fields=[f for f in fields if f.is_hidden],
            visible_fields=[f for f in fields if not f.is_hidden],
        )

    def attribute_part(self):
        fields = [self[ATTRIBUTE_PREFIX + d.name] for d in self.attribute_definitions]
        return SimpleNamespace(non_field_errors=[], hidden_fields=[], visible_fields=fields)

    # Cleaning ----------------------------------------------------------------------------------
    def clean_ip_addresses(self):
        return normalise_ip_addresses(self.cleaned_data["ip_addresses"])

    def clean_tags(self):
        names, field = [], Tag._meta.get_field("name")
        for name in re.split(r"[\s,]+", self.cleaned_data["tags"] or ""):
            if not name or name.lower() in (n.lower() for n in names):
                continue
            try:
                field.run_validators(name)
            except ValidationError:
                raise ValidationError(
                    f"“{name}” is not a valid tag name (letters, digits, . : _ - only, at most {field.max_length})."
                ) from None
            names.append(name)
        return names

    def clean(self):
        cleaned = super().clean()
        attributes = {}
        for definition in self.attribute_definitions:
            name = ATTRIBUTE_PREFIX + definition.name
            if name not in cleaned:  # the field's own check failed
                continue
            value = cleaned[name]
            if value is None or value == "":
                if definition.required:
                    self.add_error(name, forms.Field.default_error_messages["required"])
                continue
            if definition.type == AttributeType.DATE:
                value = value.isoformat()
            try:
                attributes[definition.name] = schema.check_value(definition, value)
            except ValueError as exc:
                self.add_error(name, f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
        self.instance.attributes = attributes  # the model's validation checks them against the schema
        return cleaned

    def _update_errors(self, errors):
        """Model validation errors go on the field they concern: an ``attributes`` message
        ("port: expected a whole number …") on its ``attr_port`` field; anything for a field the
        form lacks on top of the form."""
        if not hasattr(errors, "error_dict"):
            return super()._update_errors(errors)
        moved = {}
        for field, field_errors in errors.error_dict.items():
            if field == "attributes":
                for message in ValidationError(field_errors).messages:
                    name, colon, reason = message.partition(": ")
                    target = ATTRIBUTE_PREFIX + name
                    if colon and target in self.fields:
                        if target not in self._errors:  # the field's own check said it already
                            moved.setdefault(target, []).append(reason)
                    else:
                        moved.setdefault(NON_FIELD_ERRORS, []).append(message)
            elif field == NON_FIELD_ERRORS or field in self.fields:
                moved.setdefault(field, []).extend(field_errors)
            else:
                moved.setdefault(NON_FIELD_ERRORS, []).extend(ValidationError(field_errors).messages)
        return super()._update_errors(ValidationError(moved))


def relationship_type_choices():
    """Both readings of every type: ``<id>:forward`` ("depends on") and ``<id>:reverse`` ("used by")."""
    choices = []
    for kind in RelationshipType.objects.order_by("pk"):  # the seeded order: depends on, runs on, …
        choices.append((f"{kind.pk}:forward", kind.forward_label))
        if kind.reverse_label and kind.reverse_label != kind.forward_label:
            choices.append((f"{kind.pk}:reverse", kind.reverse_label))
    return choices


class RelationshipForm(forms.Form):
    """Relate ``ci`` to another CI, read from ``ci``: "ci <depends on> X" or "ci <used by> X".

    The other CI comes from the search box's pick (``target``, an id); without one, a name that
    matches exactly one CI is accepted."""

    type = forms.ChoiceField(label="Relationship")
    target = forms.IntegerField(required=False, widget=forms.HiddenInput)
    target_search = forms.CharField(label="CI", required=False, max_length=200)
    description = forms.CharField(required=False, max_length=200)

    def __init__(self, *args, ci, **kwargs):
        super().__init__(*args, **kwargs)
        self.ci = ci
        self.fields["type"].choices = relationship_type_choices()
        self.fields["target_search"].widget.attrs.update(
            {
                "placeholder": "Search CIs by name or FQDN",
                "autocomplete": "off",
                "hx-get": reverse("cmdb:ci_search"),
                "hx-trigger": "input changed delay:250ms",
                "hx-target": "#ci-target-results",
                "hx-swap": "innerHTML",  # not the form's outerHTML (htmx attributes are inherited)
                "hx-vals": f'{{"exclude": "{ci.pk}"}}',
                "hx-sync": "this:replace",
            }
        )

    def clean(self):
        cleaned = super().clean()
        other = self._other_ci(cleaned)
        choice = cleaned.get("type")
        if other is None or not choice:
            return cleaned
        type_id, _, reading = choice.partition(":")
        kind = RelationshipType.objects.filter(pk=type_id).first()
        if kind is None:
            self.add_error("type", "Unknown relationship type.")
            return cleaned
        source, target = (self.ci, other) if reading == "forward" else (other, self.ci)
        cleaned.update(source=source, relationship_type=kind, target_ci=target)
        return cleaned

    def _other_ci(self, cleaned):
        pk, text = cleaned.get("target"), (cleaned.get("target_search") or "").strip()
        if pk:
            other = CI.objects.filter(pk=pk).first()
            if other is None:
                self.add_error("target_search", "That CI no longer exists.")
            return other
        if not text:
            self.add_error("target_search", "Pick the CI to relate to.")
            return None
        matches = list(CI.objects.filter(name__iexact=text)[:2])
        if not matches:
            self.add_error("target_search", f"No CI is named “{text}”: pick one from the search results.")
            return None
        if len(matches) > 1:
            self.add_error("target_search", f"Several CIs are named “{text}”: pick one from the search results.")
            return None
        return matches[0]


class ImpactForm(forms.Form):
    direction = forms.ChoiceField(choices=Direction.choices, initial=Direction.DOWNSTREAM)
    depth = forms.IntegerField(min_value=1, max_value=MAX_DEPTH, initial=DEFAULT_DEPTH, label="Depth")

    @classmethod
    def from_query(cls, query):
        """Bound to the query string, with the defaults for what it leaves out."""
        data = {
            "direction": query.get("direction", Direction.DOWNSTREAM),
            "depth": query.get("depth", DEFAULT_DEPTH),
        }
        return cls(data)
