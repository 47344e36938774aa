from django import forms
from django.contrib.auth import get_user_model

from accounts.models import Team


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name", "email", "description", "lead", "members"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "members": forms.SelectMultiple(attrs={"size": 8}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        active = get_user_model().objects.filter(is_active=True).order_by("username")
        self.fields["lead"].queryset = active
        self.fields["members"].queryset = active


class APITokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. “Ansible inventory”.")
    write_enabled = forms.BooleanField(
        required=False, initial=False, label="Allow writes", help_text="Off: the token can only read."
    )
    expires_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        label="Expires after (days)",
        help_text="Leave empty for a token that does not expire.",
    )
