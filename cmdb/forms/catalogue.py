"""Forms for the catalogue: CI classes with their attribute schema (an inline formset),
relationship types and tags."""

from django import forms
from django.forms import BaseInlineFormSet, inlineformset_factory

from cmdb.models import AttributeDefinition, CIClass, RelationshipType, Tag
from itom.forms import bootstrap_form


class CIClassForm(forms.ModelForm):
    class Meta:
        model = CIClass
        fields = ["name", "slug", "parent", "description", "is_business_service"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "parent": "Its attributes are inherited; leave empty for a top-level class.",
        }


class AttributeDefinitionForm(forms.ModelForm):
    """One row of a class's schema; ``choices`` is typed as comma-separated text."""

    choices = forms.CharField(
        required=False,
        label="Choices",
        help_text="For a choice attribute: the allowed values, comma-separated.",
    )

    class Meta:
        model = AttributeDefinition
        fields = ["name", "label", "type", "required", "choices", "help_text", "order"]
        widgets = {
            "name": forms.TextInput(attrs={"placeholder": "e.g. rack_units"}),
            "order": forms.NumberInput(attrs={"min": 0, "style": "width: 5rem"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and isinstance(self.instance.choices, list):
            self.initial["choices"] = ", ".join(str(choice) for choice in self.instance.choices)

    def clean_choices(self):
        text = self.cleaned_data.get("choices") or ""
        return [part.strip() for part in text.split(",") if part.strip()]


class BaseAttributeFormSet(BaseInlineFormSet):
    """The class's own attributes. Besides each row's own checks (the model's ``clean``), a name
    may appear once in the form and must not clash with an attribute the class inherits from its
    (possibly new) parent or passes on to its subclasses, even before the class is saved."""

    styled = True  # Bootstrap classes for the portal's page (not in the admin)

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if self.styled:
            bootstrap_form(form)  # the row's own fields and the formset's (the delete box)

    def clean(self):
        super().clean()
        rows = [
            form
            for form in self.forms
            if not self._should_delete_form(form)
            and (form.has_changed() or form.instance.pk)
            and getattr(form, "cleaned_data", None)
            and form.cleaned_data.get("name")
        ]
        seen = {}
        for form in rows:
            name = form.cleaned_data["name"]
            if name in seen:
                form.add_error("name", f"“{name}” appears twice in this class.")
            seen.setdefault(name, form)
        defined_elsewhere = self._names_defined_in_hierarchy(set(seen))
        for form in rows:
            name = form.cleaned_data.get("name")
            if name in defined_elsewhere and "name" not in form.errors:
                form.add_error("name", f"Class “{defined_elsewhere[name]}” already defines “{name}” in this hierarchy.")

    def _names_defined_in_hierarchy(self, names):
        """``{name: class}`` for the names the prospective ancestors or the subclasses define."""
        if not names:
            return {}
        return CIClass.objects.attributes_around(self.instance.parent_id, self.instance.pk, names)

    def attributes(self):
        """The definitions to keep, in form order: existing rows not marked for deletion and the
        filled-in new rows (``cmdb.services.save_class`` deletes the rest)."""
        kept = []
        for form in self.forms:
            if self._should_delete_form(form):
                continue
            if form.instance.pk is None and not form.has_changed():
                continue  # an empty extra row
            kept.append(form.instance)
        return kept


AttributeFormSet = inlineformset_factory(
    CIClass,
    AttributeDefinition,
    form=AttributeDefinitionForm,
    formset=BaseAttributeFormSet,
    extra=1,
    can_delete=True,
)


class RelationshipTypeForm(forms.ModelForm):
    class Meta:
        model = RelationshipType
        fields = ["slug", "forward_label", "reverse_label", "propagates_failure", "description"]
        labels = {"propagates_failure": "Failure propagates"}


class TagForm(forms.ModelForm):
    class Meta:
        model = Tag
        fields = ["name", "description"]
        help_texts = {"name": "Letters, digits and . : _ - (no spaces)."}
