"""Forms of the change pages: the change form (the assignee list follows the team, affected CIs
picked by search, the planned window), the detail page's action forms (a state move with what it
needs, an approval decision, a work note, a risk override, an incident link), the risk
questionnaire, the standard-change template form and the blackout-window form.

The forms check the shape of the input; the rules (what a move needs, who may approve, whether a
blackout blocks, who may override the risk) are ``changes.services``', whose ``ValidationError``
lands on the field it names (``errors_to_form``) and whose refusals (409, 403) the views show.
"""

from django import forms
from django.contrib.auth import get_user_model

from accounts.models import Team
from changes.choices import ChangeState, ChangeType, CloseCode, Decision, RiskLevel, TemplateState
from changes.models import BlackoutWindow, RiskQuestion, StandardChangeTemplate
from changes.services.changes import TEMPLATE_PLANS, UPDATABLE_FIELDS
from changes.services.templates import EDITABLE_FIELDS as TEMPLATE_FIELDS
from changes.services.templates import KEY_MAX
from cmdb.models import CI, CIClass
from incidents.forms.incidents import (
    CIPickerMixin,
    IncidentNumberField,
    PersonChoiceField,
    TeamAssigneeMixin,
    affected_cis_field,
    categories_for,
    instance_initial,
)
from incidents.models import Category, Incident

User = get_user_model()

__all__ = [
    "BlackoutForm",
    "ChangeForm",
    "DecisionForm",
    "IncidentLinkForm",
    "NoteForm",
    "RiskAnswersForm",
    "RiskOverrideForm",
    "TemplateForm",
    "TransitionForm",
]

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows


def datetime_field(**kwargs):
    """A date and time picked in the browser (``datetime-local``), in the portal's time zone."""
    return forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT), **kwargs
    )


def text_area(rows=4, **kwargs):
    kwargs.setdefault("required", False)
    return forms.CharField(widget=forms.Textarea(attrs={"rows": rows}), **kwargs)


# --- the change form --------------------------------------------------------------------------


class ChangeForm(CIPickerMixin, TeamAssigneeMixin, forms.Form):
    """Create or edit a change. A change made from a template (``template``) is a standard change
    whose plans, team, category and risk come from the template; one requested from an incident
    (``incident``) links it. The type may change only while the change is new; state changes are
    the detail page's actions."""

    title = forms.CharField(max_length=200)
    type = forms.ChoiceField(
        choices=[(ChangeType.NORMAL, "Normal"), (ChangeType.EMERGENCY, "Emergency")],
        initial=ChangeType.NORMAL,
        help_text="Normal: assessed, then approved by the policy's stages. Emergency: the emergency CAB only.",
    )
    description = text_area(5)
    justification = text_area(3, help_text="Why the change is needed.")
    category = forms.ModelChoiceField(queryset=Category.objects.none(), required=False)
    assignment_team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, label="Team")
    assignee = PersonChoiceField(queryset=User.objects.none(), required=False)
    affected_cis = affected_cis_field("The impacted CIs and business services are worked out from the CMDB.")
    planned_start = datetime_field(required=False)
    planned_end = datetime_field(required=False)
    implementation_plan = text_area(5)
    backout_plan = text_area(4)
    test_plan = text_area(3)
    emergency_justification = text_area(3, help_text="Needed to schedule an emergency change into a blackout window.")
    template = forms.ModelChoiceField(
        queryset=StandardChangeTemplate.objects.filter(state=TemplateState.APPROVED),
        required=False,
        widget=forms.HiddenInput,
    )
    incident = forms.ModelChoiceField(queryset=Incident.objects.all(), required=False, widget=forms.HiddenInput)

    # What ``update_change`` takes (besides the type, editable while new).
    EDITABLE = UPDATABLE_FIELDS
    PLANS = TEMPLATE_PLANS

    def __init__(self, *args, change=None, template=None, **kwargs):
        self.change = change
        self.source_template = template if change is None else change.template
        if change is not None:
            instance_initial(kwargs.setdefault("initial", {}), change, (*self.EDITABLE, "type"))
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = categories_for(change.category_id if change else None)
        self.fields["assignment_team"].queryset = Team.objects.order_by("name")
        self.fields["assignee"].queryset = User.objects.filter(is_active=True)
        if self.is_standard:
            # The type is the template's; its plans are copied by the service.
            self.fields["type"].choices = [(ChangeType.STANDARD, "Standard")]
            self.fields["type"].initial = ChangeType.STANDARD
            self.fields["type"].widget = forms.HiddenInput()
            if change is None:
                for name in self.PLANS:
                    del self.fields[name]
        elif change is not None and change.state != ChangeState.NEW:
            self.fields["type"].disabled = True
            self.fields["type"].help_text = "The type can only change while the change is new."
        if change is not None:
            del self.fields["template"]
            del self.fields["incident"]
        initial_team = None
        team_id = self.initial.get("assignment_team")
        if team_id:
            initial_team = Team.objects.filter(pk=getattr(team_id, "pk", team_id)).first()
        self.setup_assignee(self.chosen_team(default=initial_team))

    @property
    def is_standard(self):
        if self.change is not None:
            return self.change.type == ChangeType.STANDARD
        return self.source_template is not None

    def create_fields(self):
        """The fields ``create_change`` takes from this form (not the title, type and links)."""
        data = self.cleaned_data
        fields = {name: data[name] for name in self.EDITABLE if name in self.fields and name != "title"}
        fields["affected_cis"] = list(data["affected_cis"])
        return fields

    def changed_fields(self):
        """The fields an edit changed, ready for ``update_change``."""
        changed = {}
        for name in self.changed_data:
            if name in self.EDITABLE:
                value = self.cleaned_data[name]
                changed[name] = list(value) if name == "affected_cis" else value
        if "type" in self.changed_data and not self.fields["type"].disabled:
            changed["type"] = self.cleaned_data["type"]
        return changed


# --- the detail page's actions ----------------------------------------------------------------


class TransitionForm(forms.Form):
    """One state move, with what it may need: a note (send back, cancel), a close code and notes
    (complete, close), the review notes (close after a review), an emergency justification
    (schedule an emergency change into a blackout). The service says what is missing."""

    state = forms.ChoiceField(choices=ChangeState.choices, widget=forms.HiddenInput)
    close_code = forms.ChoiceField(choices=[("", "—"), *CloseCode.choices], required=False, label="Close code")
    close_notes = text_area(3, label="Close notes")
    review_notes = text_area(3, label="Review notes", help_text="The post-implementation review.")
    emergency_justification = text_area(
        3, label="Emergency justification", help_text="Why it may go ahead inside a blackout window."
    )
    note = text_area(3)

    # What the service calls a field → the field here.
    ERROR_ALIASES = {"body": "note", "reason": "note"}


class DecisionForm(forms.Form):
    """Approve or reject the stage awaiting the user (the button pressed is the decision)."""

    decision = forms.ChoiceField(choices=Decision.choices, widget=forms.HiddenInput)
    comment = text_area(2, help_text="Required to reject.")


class NoteForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Work note", max_length=20000)


class RiskOverrideForm(forms.Form):
    """A manager's override of the computed risk level (empty: back to the computed one)."""

    level = forms.ChoiceField(choices=[("", "— the computed level —"), *RiskLevel.choices], required=False)
    reason = text_area(2, help_text="Why the computed level is wrong (kept in the audit trail).")

    ERROR_ALIASES = {"risk_override": "level", "risk_override_reason": "reason"}


class IncidentLinkForm(forms.Form):
    FIXES, CAUSED = "fixes", "caused"

    incident = IncidentNumberField(label="Incident")
    relation = forms.ChoiceField(
        choices=[(FIXES, "This change fixes it"), (CAUSED, "This change caused it")],
        initial=FIXES,
        widget=forms.RadioSelect,
    )


class RiskAnswersForm(forms.Form):
    """The risk questionnaire: one radio group per active question (``q_<id>``), each answer
    worth its points. Unanswered questions are allowed here; requesting approval of a normal
    change needs them all."""

    def __init__(self, *args, change, questions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.change = change
        if questions is None:
            questions = RiskQuestion.objects.filter(active=True).prefetch_related("options")
        self.questions = list(questions)
        chosen = {option.question_id: option.pk for option in change.risk_answers.all()}
        for question in self.questions:
            options = list(question.options.all())
            field = forms.TypedChoiceField(
                label=question.text,
                help_text=question.help_text,
                choices=[(option.pk, f"{option.label} (+{option.score})") for option in options],
                coerce=int,
                required=False,
                empty_value=None,
                widget=forms.RadioSelect,
                initial=chosen.get(question.pk),
            )
            self.fields[f"q_{question.pk}"] = field

    def option_ids(self):
        return [value for name, value in self.cleaned_data.items() if name.startswith("q_") and value]

    def answered(self):
        return sum(1 for question in self.questions if self[f"q_{question.pk}"].value())


# --- templates and blackout windows -----------------------------------------------------------


def _model_field(model, name, **kwargs):
    return model._meta.get_field(name).formfield(**kwargs)


class TemplateForm(forms.Form):
    """A draft standard-change template (``changes.services.templates``)."""

    name = _model_field(StandardChangeTemplate, "name")
    key = forms.SlugField(
        max_length=KEY_MAX,
        required=False,
        help_text="Identifies the template across its versions; made from the name when left empty.",
    )
    description = text_area(3)
    category = forms.ModelChoiceField(queryset=Category.objects.none(), required=False)
    assignment_team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, label="Team")
    implementation_plan = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}))
    backout_plan = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))
    test_plan = text_area(3)
    risk_level = forms.ChoiceField(choices=RiskLevel.choices, initial=RiskLevel.LOW)
    ci_classes = forms.ModelMultipleChoiceField(
        queryset=CIClass.objects.none(),
        required=False,
        label="CI classes",
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="The CI classes it applies to; none: any.",
    )

    FIELDS = TEMPLATE_FIELDS

    def __init__(self, *args, template=None, **kwargs):
        self.template = template
        if template is not None:
            instance_initial(kwargs.setdefault("initial", {}), template, self.FIELDS)
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = categories_for(template.category_id if template else None)
        self.fields["assignment_team"].queryset = Team.objects.order_by("name")
        self.fields["ci_classes"].queryset = CIClass.objects.order_by("name")
        if template is not None:
            del self.fields["key"]  # fixed once made: the versions share it

    def service_fields(self, changed_only=False):
        data = self.cleaned_data
        names = [n for n in self.FIELDS if not changed_only or n in self.changed_data]
        fields = {name: (list(data[name]) if name == "ci_classes" else data[name]) for name in names}
        if "key" in self.fields and data.get("key"):
            fields["key"] = data["key"]
        return fields


class BlackoutForm(forms.ModelForm):
    """A blackout window: global, or for an environment, CI classes or business services. An end
    not after the start is refused by the model (``BlackoutWindow.clean``), naming ``end``."""

    start = datetime_field()
    end = datetime_field()

    class Meta:
        model = BlackoutWindow
        fields = ["name", "start", "end", "reason", "environment", "ci_classes", "business_services", "active"]
        widgets = {
            "reason": forms.Textarea(attrs={"rows": 3}),
            "ci_classes": forms.SelectMultiple(attrs={"size": 6}),
            "business_services": forms.SelectMultiple(attrs={"size": 6}),
        }
        help_texts = {
            "environment": "Empty, with no class or service: the window covers every change.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ci_classes"].queryset = CIClass.objects.order_by("name")
        self.fields["business_services"].queryset = CI.objects.filter(ci_class__is_business_service=True).order_by(
            "name"
        )
