"""The webhook endpoint form (the pages and the admin share it)."""

from django import forms

from itom import notifications, webhooks
from itom.choices import WebhookKind
from itom.models import WebhookEndpoint


def event_choices():
    return [
        (event.key, f"{event.label} ({event.key})") for event in sorted(notifications.events(), key=lambda e: e.key)
    ]


class WebhookEndpointForm(forms.ModelForm):
    """``secret`` is never shown back: left blank it keeps the current one (a new JSON endpoint
    gets a generated one); ``new_secret`` replaces it with a generated one."""

    url = forms.URLField(
        label="URL",
        max_length=WebhookEndpoint._meta.get_field("url").max_length,
        assume_scheme="https",
        help_text="http:// or https://. Chat endpoints: the incoming-webhook URL of Slack, Mattermost or Rocket.Chat.",
    )
    secret = forms.CharField(
        required=False,
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="The HMAC-SHA256 key the receiver checks X-ITOM-Signature-256 with. "
        "Leave blank to keep the current one (a new JSON endpoint gets a generated secret, shown once).",
    )
    new_secret = forms.BooleanField(required=False, label="Replace the secret with a generated one")
    events = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The events this endpoint receives. None ticked: every event.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "kind", "secret", "new_secret", "events", "active"]
        help_texts = {
            "kind": 'JSON: the event as a signed JSON document. Chat: a Slack-compatible {"text": …} message.',
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._original_secret = self.instance.secret if self.instance.pk else ""
        self.fields["events"].choices = event_choices()
        self.fields["events"].initial = list(self.instance.events or [])
        if not self.instance.pk:
            del self.fields["new_secret"]
        self.fields["kind"].initial = self.instance.kind or WebhookKind.JSON

    def clean_url(self):
        url = self.cleaned_data["url"]
        webhooks.validate_url(url)
        return url

    def clean_events(self):
        return webhooks.validate_events(self.cleaned_data.get("events") or [])

    def endpoint(self):
        """The unsaved endpoint with the secret rules applied (``webhooks.save_endpoint`` saves it)."""
        endpoint = self.save(commit=False)
        if self.cleaned_data.get("new_secret"):
            endpoint.secret = webhooks.generate_secret()
        elif not self.cleaned_data.get("secret"):
            endpoint.secret = self._original_secret
        return endpoint

    @property
    def secret_changed(self):
        return self.instance.secret != self._original_secret

    def save_endpoint(self):
        return webhooks.save_endpoint(self.endpoint())
