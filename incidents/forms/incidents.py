"""Forms of the incident pages: the incident form (priority shown live, the assignee list
following the team, affected CIs picked with a search), the detail page's action forms (assign,
state changes, comment / work note / attachment, major-incident actions) and the queue's bulk bar.

The forms check the shape of the input; the rules (who may be assigned, what a resolution needs,
which move is allowed) are the services' (``incidents.services.incidents``), whose
``ValidationError`` lands on the field it names (``errors_to_form``).
"""

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.urls import reverse

from accounts.models import Team
from cmdb.models import CI
from incidents.choices import HoldReason, Impact, IncidentState, ResolutionCode, Urgency
from incidents.models import Category, Incident

User = get_user_model()

MAX_BULK = 500  # incidents one bulk action may touch (the queue's largest page)


def person_label(user):
    full = user.get_full_name()
    return f"{full} ({user.username})" if full else user.username


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return person_label(obj)


class PeopleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return person_label(obj)


def team_members(team):
    """The people an incident of ``team`` may be assigned to: its active members (the service
    also wants them to hold the agent role, and says so when they don't)."""
    if team is None:
        return User.objects.none()
    return User.objects.filter(teams=team, is_active=True).order_by("username")


def assignee_choices(team, empty_label="— Unassigned —"):
    """``[(value, label)]`` for an assignee select: the team's members, or a hint without a team."""
    if team is None:
        return [("", "— Pick a team first —")]
    return [("", empty_label)] + [(user.pk, person_label(user)) for user in team_members(team)]


def instance_initial(initial, instance, names):
    """Fill a form's ``initial`` with ``instance``'s values of ``names``, where none is given: an
    id for a foreign key, a list of ids for a many-to-many field. Returns ``initial``."""
    for name in names:
        field = instance._meta.get_field(name)
        if field.many_to_many:
            value = [obj.pk for obj in getattr(instance, name).all()]
        else:
            value = getattr(instance, field.attname)
        initial.setdefault(name, value)
    return initial


def categories_for(current=None):
    """The categories a form offers: the active ones, and ``current`` (the id of the category the
    object has now, which may have been retired since)."""
    return Category.objects.filter(Q(active=True) | Q(pk=current))


def affected_cis_field(help_text):
    return forms.ModelMultipleChoiceField(
        queryset=CI.objects.all(),
        required=False,
        label="Affected CIs",
        widget=forms.MultipleHiddenInput,  # the page's CI picker renders the chosen ones
        help_text=help_text,
    )


class CIPickerMixin:
    """A form whose ``affected_cis`` are picked with the page's CI search."""

    def chosen_cis(self):
        """The affected CIs to show as picked: the submitted ones, else the initial ones."""
        raw = self["affected_cis"].value() or []
        ids = [int(value) for value in raw if str(value).isdigit()]
        if not ids:
            return []
        return list(CI.objects.filter(pk__in=ids).select_related("ci_class").order_by("name"))


class TeamAssigneeMixin:
    """The assignee select lists the chosen team's members and follows a change of team (htmx
    GET to ``incidents:incident_assignees``, which answers the options). Validation accepts any
    active person: whether they may take the incident is the service's rule (a member of the
    team), and its error names the field."""

    team_field = "assignment_team"
    assignee_field = "assignee"

    def setup_assignee(self, team):
        team_field, assignee_field = self.fields[self.team_field], self.fields[self.assignee_field]
        assignee_field.widget.choices = assignee_choices(team)
        team_field.widget.attrs.update(
            {
                "hx-get": reverse("incidents:incident_assignees"),
                "hx-trigger": "change",
                "hx-target": f"#{self[self.assignee_field].auto_id}",
                "hx-swap": "innerHTML",
                "hx-include": f"#{self[self.assignee_field].auto_id}",
            }
        )

    def chosen_team(self, default=None):
        if not self.is_bound:
            return default
        raw = self.data.get(self.add_prefix(self.team_field))
        if not raw or not str(raw).isdigit():
            return None
        return Team.objects.filter(pk=raw).first()


class IncidentForm(CIPickerMixin, TeamAssigneeMixin, forms.Form):
    """Create or edit an incident. Priority is not a field: it follows impact × urgency (the
    page shows it live); state changes are the detail page's actions."""

    title = Incident._meta.get_field("title").formfield()
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 5}))
    impact = forms.TypedChoiceField(choices=Impact.choices, coerce=int, initial=Impact.LOW)
    urgency = forms.TypedChoiceField(choices=Urgency.choices, coerce=int, initial=Urgency.LOW)
    category = forms.ModelChoiceField(queryset=Category.objects.none(), required=False)
    caller = PersonChoiceField(queryset=User.objects.none(), required=False, help_text="The person who reported it.")
    caller_contact = Incident._meta.get_field("caller_contact").formfield()
    assignment_team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False)
    assignee = PersonChoiceField(queryset=User.objects.none(), required=False)
    affected_cis = affected_cis_field("The business services that depend on them are worked out from the CMDB.")
    watchers = PeopleChoiceField(
        queryset=User.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 5}),
        help_text="People told about every change, besides the caller and the assignee.",
    )

    # Fields update_incident takes besides the assignment.
    PLAIN_FIELDS = (
        "title",
        "description",
        "impact",
        "urgency",
        "category",
        "caller",
        "caller_contact",
        "affected_cis",
        "watchers",
    )

    def __init__(self, *args, incident=None, **kwargs):
        self.incident = incident
        if incident is not None:
            names = (*self.PLAIN_FIELDS, "assignment_team", "assignee")
            instance_initial(kwargs.setdefault("initial", {}), incident, names)
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = categories_for(incident.category_id if incident else None)
        people = User.objects.filter(is_active=True).order_by("username")
        self.fields["caller"].queryset = people
        self.fields["watchers"].queryset = people
        self.fields["assignee"].queryset = people
        self.fields["assignment_team"].queryset = Team.objects.order_by("name")
        initial_team = None
        if incident is not None and incident.assignment_team_id:
            initial_team = incident.assignment_team
        elif self.initial.get("assignment_team"):
            initial_team = Team.objects.filter(pk=self.initial["assignment_team"]).first()
        self.setup_assignee(self.chosen_team(default=initial_team))
        for name in ("impact", "urgency"):
            self.fields[name].widget.attrs.update(
                {
                    "hx-get": reverse("incidents:incident_priority"),
                    "hx-trigger": "change",
                    "hx-target": "#incident-priority",
                    "hx-include": f"#{self['impact'].auto_id}, #{self['urgency'].auto_id}",
                }
            )

    def changed_fields(self):
        """The plain fields an edit changed, ready for ``update_incident``."""
        return {name: self.cleaned_data[name] for name in self.PLAIN_FIELDS if name in self.changed_data}

    def assignment_changed(self):
        """Whether the team or the assignee changed (``assign`` then takes both)."""
        return bool({"assignment_team", "assignee"} & set(self.changed_data))


class PriorityPreviewForm(forms.Form):
    impact = forms.TypedChoiceField(choices=Impact.choices, coerce=int)
    urgency = forms.TypedChoiceField(choices=Urgency.choices, coerce=int)


class AssignForm(TeamAssigneeMixin, forms.Form):
    assignment_team = forms.ModelChoiceField(queryset=Team.objects.none(), label="Team")
    assignee = PersonChoiceField(queryset=User.objects.none(), required=False)

    def __init__(self, *args, incident=None, **kwargs):
        if incident is not None:
            initial = kwargs.setdefault("initial", {})
            initial.setdefault("assignment_team", incident.assignment_team_id)
            initial.setdefault("assignee", incident.assignee_id)
        super().__init__(*args, **kwargs)
        self.fields["assignment_team"].queryset = Team.objects.order_by("name")
        self.fields["assignee"].queryset = User.objects.filter(is_active=True)
        default = incident.assignment_team if incident is not None and incident.assignment_team_id else None
        self.setup_assignee(self.chosen_team(default=default))


class TransitionForm(forms.Form):
    """One state change. The page shows one of these per move the incident may make, each with
    the fields it needs (a hold reason, a resolution code and notes); the service checks them."""

    state = forms.ChoiceField(choices=IncidentState.choices, widget=forms.HiddenInput)
    hold_reason = forms.ChoiceField(choices=[("", "—")] + HoldReason.choices, required=False, label="Reason")
    resolution_code = forms.ChoiceField(
        choices=[("", "—")] + ResolutionCode.choices, required=False, label="Resolution code"
    )
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    # What the service calls a field → the field here.
    ERROR_ALIASES = {"resolution_notes": "note", "notes": "note", "body": "note"}


class CommentForm(forms.Form):
    """A public comment, an internal work note, or a file (with or without words)."""

    COMMENT, WORK_NOTE = "comment", "work_note"

    kind = forms.ChoiceField(
        choices=[(WORK_NOTE, "Work note (internal)"), (COMMENT, "Comment (visible to the caller)")],
        initial=WORK_NOTE,
        widget=forms.RadioSelect,
        label="Add a",
    )
    body = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Text")
    file = forms.FileField(required=False, label="Attach a file")

    ERROR_ALIASES = {"uploaded_file": "file", "attachment": "file", "size": "file", "content_type": "file"}

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("body") or "").strip() and not cleaned.get("file"):
            self.add_error("body", "Write something or attach a file.")
        return cleaned


class IncidentNumberField(forms.CharField):
    """An incident by its number (``INC0001234``, case and spaces ignored)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 30)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("placeholder", "INC0001234")
        self.widget.attrs.setdefault("autocomplete", "off")

    def clean(self, value):
        value = (super().clean(value) or "").strip().upper()
        if not value:
            return None
        incident = Incident.objects.filter(number=value).first()
        if incident is None:
            raise ValidationError(f"No incident is numbered {value}.")
        return incident


class LinkParentForm(forms.Form):
    parent = IncidentNumberField(label="Major incident")


class LinkChildForm(forms.Form):
    child = IncidentNumberField(label="Incident")


class MajorUpdateForm(forms.Form):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), label="Update", help_text="Copied to every child's timeline."
    )


class ResolveChildrenForm(forms.Form):
    resolution_code = forms.ChoiceField(choices=[("", "—")] + ResolutionCode.choices, label="Resolution code")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Resolution notes")

    ERROR_ALIASES = {"resolution_notes": "note", "notes": "note"}


class BulkForm(TeamAssigneeMixin, forms.Form):
    """The queue's bulk bar: the ticked incidents, and either an assignment or a state change."""

    ASSIGN, TRANSITION = "assign", "transition"

    ids = forms.TypedMultipleChoiceField(coerce=int, label="Incidents")
    action = forms.ChoiceField(choices=[(ASSIGN, "Assign"), (TRANSITION, "Change state")])
    assignment_team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, label="Team")
    assignee = PersonChoiceField(queryset=User.objects.none(), required=False)
    state = forms.ChoiceField(choices=[("", "—")] + IncidentState.choices, required=False, label="New state")
    hold_reason = forms.ChoiceField(choices=[("", "—")] + HoldReason.choices, required=False, label="Hold reason")
    resolution_code = forms.ChoiceField(
        choices=[("", "—")] + ResolutionCode.choices, required=False, label="Resolution code"
    )
    note = forms.CharField(required=False, max_length=5000, label="Note")
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignment_team"].queryset = Team.objects.order_by("name")
        self.fields["assignee"].queryset = User.objects.filter(is_active=True)
        self.setup_assignee(self.chosen_team())
        # The checkboxes sit in the table rows; any whole number is a choice the service judges.
        raw = self.data.getlist(self.add_prefix("ids")) if self.is_bound and hasattr(self.data, "getlist") else []
        self.fields["ids"].choices = [(value, value) for value in raw]
        self.fields["ids"].error_messages["required"] = "Tick at least one incident."
        self.fields["ids"].error_messages["invalid_choice"] = "%(value)s is not an incident id."

    def clean_ids(self):
        ids = list(dict.fromkeys(self.cleaned_data["ids"]))
        if len(ids) > MAX_BULK:
            raise ValidationError(f"At most {MAX_BULK} incidents at a time; {len(ids)} were ticked.")
        return ids

    def clean(self):
        cleaned = super().clean()
        action = cleaned.get("action")
        if action == self.ASSIGN and not cleaned.get("assignment_team"):
            self.add_error("assignment_team", "Pick the team to assign to.")
        if action == self.TRANSITION and not cleaned.get("state"):
            self.add_error("state", "Pick the new state.")
        return cleaned
