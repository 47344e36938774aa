"""The import page's forms: a CSV/JSON bulk upsert and host facts, each previewed (dry run)
before it is committed."""

from django import forms

from accounts.models import Team
from cmdb.choices import Environment
from itom.forms import bootstrap_form

MAX_IMPORT_BYTES = 2 * 1024 * 1024  # a file, or pasted text; larger estates go through the API

FORMAT_CHOICES = [("auto", "Detect (file name or content)"), ("csv", "CSV"), ("json", "JSON")]
KEY_CHOICES = [("name", "Class + name"), ("external_id", "External id")]
PREVIEW, COMMIT = "preview", "import"


def detect_format(content, filename=""):
    """``"csv"`` or ``"json"``: from the file's extension, else from the first character."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension in ("csv", "json"):
        return extension
    return "json" if content.lstrip()[:1] in ("[", "{") else "csv"


def _too_large(size):
    return f"The content is {size / 1024 / 1024:.1f} MB; the page takes up to {MAX_IMPORT_BYTES // 1024 // 1024} MB."


class ImportFormBase(forms.Form):
    """The page's two forms are each sent by a "Preview" or an "Import" button (``action``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        bootstrap_form(self)


class BulkImportForm(ImportFormBase):
    """The content comes from (first found) the uploaded file, the pasted text, or ``content``:
    the previewed file's content, carried in the page so "Import" commits what was previewed."""

    file = forms.FileField(required=False, label="File", help_text="A .csv or .json file.")
    text = forms.CharField(
        required=False,
        label="Or paste CSV or JSON",
        widget=forms.Textarea(attrs={"rows": 8, "class": "font-monospace", "spellcheck": "false"}),
    )
    content = forms.CharField(required=False, widget=forms.HiddenInput(), strip=False)
    content_name = forms.CharField(required=False, widget=forms.HiddenInput())
    format = forms.ChoiceField(choices=FORMAT_CHOICES, initial="auto")
    key = forms.ChoiceField(
        choices=KEY_CHOICES,
        initial="name",
        label="Match existing CIs by",
        help_text="Rows whose key matches a CI update it; the others create CIs.",
    )

    def clean(self):
        data = super().clean()
        upload, text, carried = data.get("file"), data.get("text") or "", data.get("content") or ""
        if self.errors:
            return data
        source, name = "text", ""
        if upload:
            if upload.size > MAX_IMPORT_BYTES:
                raise forms.ValidationError({"file": _too_large(upload.size)})
            try:
                content = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError({"file": "The file is not UTF-8 text."}) from None
            source, name = "file", upload.name
        elif text.strip():
            content = text
        elif carried.strip():
            content, source, name = carried, "file", data.get("content_name") or ""
        else:
            raise forms.ValidationError({"file": "Choose a file or paste the content."})
        if len(content.encode()) > MAX_IMPORT_BYTES:
            raise forms.ValidationError({source: _too_large(len(content.encode()))})
        data["payload"] = content.lstrip("\ufeff")
        data["source"] = source  # the field an error in the content is reported on
        data["source_name"] = name
        fmt = data.get("format") or "auto"
        data["resolved_format"] = detect_format(content, name) if fmt == "auto" else fmt
        return data


class HostFactsForm(ImportFormBase):
    facts = forms.CharField(
        label="Host facts",
        widget=forms.Textarea(attrs={"rows": 10, "class": "font-monospace", "spellcheck": "false"}),
        help_text="The output of “ansible HOST -m setup” or “facter --json” (one host or several).",
    )
    environment = forms.ChoiceField(choices=Environment.choices, initial=Environment.PRODUCTION)
    owner_team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"), required=False, label="Owner team", empty_label="(none)"
    )

    def clean_facts(self):
        facts = self.cleaned_data["facts"]
        if len(facts.encode()) > MAX_IMPORT_BYTES:
            raise forms.ValidationError(_too_large(len(facts.encode())))
        return facts
