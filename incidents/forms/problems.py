"""Forms of the problem and known-error pages: the problem form (the assignee list follows the
team), the known-error form, affected CIs as a list of names (with a search that adds to it),
and the problem page's action forms (state change, workaround, link incidents, note).

The forms check the shape of the input; the rules (who may be assigned, what a move needs,
which incidents may be linked) are ``incidents.services.problems``', whose ``ValidationError``
lands on the field it names (``errors_to_form``).
"""

import re

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import Team
from cmdb.models import CI
from incidents.choices import ProblemState
from incidents.forms.incidents import PersonChoiceField, TeamAssigneeMixin, categories_for
from incidents.models import KnownError, Problem
from incidents.services.problems import allowed_problem_transitions, resolve_incident_refs

User = get_user_model()

__all__ = [
    "CIListField",
    "KnownErrorForm",
    "LinkIncidentsForm",
    "ProblemForm",
    "ProblemNoteForm",
    "ProblemTransitionForm",
    "WorkaroundForm",
]

MAX_CIS = 200
CLASS_SUFFIX = re.compile(r"^(?P<name>.+?)\s*\((?P<ci_class>[^()]+)\)$")


def ci_label(ci):
    """How a CI is written in a CI list: its name, and its class in brackets."""
    return f"{ci.name} ({ci.ci_class.name})"


class CIListField(forms.CharField):
    """Affected CIs written one per line (or comma-separated) as a name, or as ``name (Class)``
    when several classes have a CI of that name — the form the page's search adds them in.
    Cleans to a list of CIs; unknown and ambiguous names are refused, naming them."""

    widget = forms.Textarea(attrs={"rows": 3, "class": "ci-list-input"})

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "Affected CIs")
        kwargs.setdefault("help_text", "One CI per line: its name, or “name (Class)” when the name is not unique.")
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)) or hasattr(value, "all"):
            items = value.all() if hasattr(value, "all") else value
            return "\n".join(ci_label(ci) for ci in items)
        return value

    def clean(self, value):
        text = super().clean(value) or ""
        entries = [entry.strip() for entry in re.split(r"[\n,]+", text) if entry.strip()]
        if len(entries) > MAX_CIS:
            raise ValidationError(f"At most {MAX_CIS} CIs ({len(entries)} given).")
        found, problems = [], []
        for entry in dict.fromkeys(entries):
            matches = list(CI.objects.filter(name__iexact=entry).select_related("ci_class")[:5])
            if not matches and (parts := CLASS_SUFFIX.match(entry)):
                matches = list(
                    CI.objects.filter(
                        name__iexact=parts["name"], ci_class__name__iexact=parts["ci_class"].strip()
                    ).select_related("ci_class")[:5]
                )
            elif len(matches) > 1 and (parts := CLASS_SUFFIX.match(entry)):
                matches = [ci for ci in matches if ci.ci_class.name.lower() == parts["ci_class"].lower()]
            if not matches:
                problems.append(f"no CI is named “{entry}”")
            elif len(matches) > 1:
                classes = ", ".join(ci.ci_class.name for ci in matches)
                problems.append(f"several CIs are named “{entry}” ({classes}): write it as “name (Class)”")
            elif matches[0] not in found:
                found.append(matches[0])
        if problems:
            text = "; ".join(problems)
            raise ValidationError(f"{text[:1].upper()}{text[1:]}.")
        return found


def search_attrs(target):
    """The attributes of the CI search box that adds picks to the CI list ``target`` (an id)."""
    return {
        "placeholder": "Search CIs by name or FQDN to add them",
        "autocomplete": "off",
        "hx-get": reverse("cmdb:ci_search"),
        "hx-trigger": "input changed delay:250ms",
        "hx-target": f"#{target}-results",
        "hx-swap": "innerHTML",
        "hx-sync": "this:replace",
        "data-ci-list": target,
    }


class ProblemForm(TeamAssigneeMixin, forms.ModelForm):
    """Create or edit a problem. State and workaround are the detail page's actions."""

    assignee = PersonChoiceField(queryset=User.objects.none(), required=False)
    affected_cis = CIListField()
    # The CI search box; named ``q`` because that is what ``cmdb:ci_search`` reads. Not saved.
    q = forms.CharField(required=False, label="Add a CI")

    class Meta:
        model = Problem
        fields = ["title", "description", "priority", "category", "assignment_team", "assignee", "root_cause"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "root_cause": forms.Textarea(attrs={"rows": 4}),
        }

    field_order = [
        "title",
        "description",
        "priority",
        "category",
        "assignment_team",
        "assignee",
        "affected_cis",
        "q",
        "root_cause",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        problem = self.instance
        if problem.pk and "affected_cis" not in self.initial:
            self.initial["affected_cis"] = list(problem.affected_cis.select_related("ci_class").order_by("name"))
        self.fields["category"].queryset = categories_for(problem.category_id)
        self.fields["assignment_team"].queryset = Team.objects.order_by("name")
        self.fields["assignee"].queryset = User.objects.filter(is_active=True)
        self.fields["q"].widget.attrs.update(search_attrs(self["affected_cis"].auto_id))
        self.setup_assignee(self.chosen_team(default=problem.assignment_team if problem.assignment_team_id else None))
        if not problem.pk:
            self.fields["root_cause"].help_text = "Leave empty until the analysis finds it."

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("assignee") and not cleaned.get("assignment_team"):
            self.add_error("assignee", "Pick the assignment team too: an assignee belongs to a team.")
        return cleaned

    def service_fields(self):
        """What ``create_problem`` / ``update_problem`` take from the form."""
        data = {name: self.cleaned_data[name] for name in self.Meta.fields}
        data["affected_cis"] = self.cleaned_data["affected_cis"]
        return data


class KnownErrorForm(forms.ModelForm):
    affected_cis = CIListField()
    q = forms.CharField(required=False, label="Add a CI")  # the CI search box (see ProblemForm.q)
    problem = forms.CharField(
        required=False,
        max_length=30,
        label="Problem",
        help_text="The problem it comes from, by number (PRB0000012); optional.",
    )

    class Meta:
        model = KnownError
        fields = ["title", "symptom", "root_cause", "workaround", "active"]
        widgets = {
            "symptom": forms.Textarea(attrs={"rows": 3}),
            "root_cause": forms.Textarea(attrs={"rows": 3}),
            "workaround": forms.Textarea(attrs={"rows": 3}),
        }

    field_order = ["title", "symptom", "root_cause", "workaround", "affected_cis", "q", "problem", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        known_error = self.instance
        if known_error.pk:
            self.initial.setdefault(
                "affected_cis", list(known_error.affected_cis.select_related("ci_class").order_by("name"))
            )
            self.initial.setdefault("problem", known_error.problem.number if known_error.problem_id else "")
        self.fields["problem"].widget.attrs.setdefault("placeholder", "PRB0000012")
        self.fields["q"].widget.attrs.update(search_attrs(self["affected_cis"].auto_id))
        self.fields["symptom"].help_text = "What the caller and the desk see: error messages, behaviour."

    def clean_problem(self):
        value = (self.cleaned_data["problem"] or "").strip().upper()
        if not value:
            return None
        problem = Problem.objects.filter(number=value).first()
        if problem is None:
            raise ValidationError(f"No problem is numbered {value}.")
        return problem

    def service_fields(self):
        data = {name: self.cleaned_data[name] for name in self.Meta.fields}
        data["affected_cis"] = self.cleaned_data["affected_cis"]
        data["problem"] = self.cleaned_data["problem"]
        return data


class ProblemTransitionForm(forms.Form):
    """Move the problem: the states it may go to next, and a note (required for some moves:
    the service says which)."""

    state = forms.ChoiceField(label="Move to")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, problem, **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(ProblemState.choices)
        self.fields["state"].choices = [(state, labels[state]) for state in allowed_problem_transitions(problem)]


class WorkaroundForm(forms.Form):
    workaround = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Posted as a work note on every open linked incident.",
    )

    def __init__(self, *args, problem=None, **kwargs):
        super().__init__(*args, **kwargs)
        if problem is not None and not self.is_bound:
            self.initial.setdefault("workaround", problem.workaround)


class LinkIncidentsForm(forms.Form):
    incidents = forms.CharField(
        max_length=5000,
        label="Incidents",
        help_text="Incident numbers, separated by commas or spaces.",
        widget=forms.TextInput(attrs={"placeholder": "INC0001234, INC0001235", "autocomplete": "off"}),
    )

    def clean_incidents(self):
        try:
            return resolve_incident_refs(self.cleaned_data["incidents"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["incidents"]) from None


class ProblemNoteForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Note")
