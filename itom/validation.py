"""Small input helpers the apps' services share (the services take dicts from forms and the API)."""

from django.core.exceptions import ValidationError


def refuse_unknown_fields(fields, allowed, what):
    """Raise a ValidationError naming every key of ``fields`` that is not in ``allowed``.

    ``what`` names the object with its article ("a check", "an integration").
    """
    refused = {name: f"Not a field of {what} that can be set." for name in fields if name not in allowed}
    if refused:
        raise ValidationError(refused)


def pk_of(value):
    """The primary key of an object, or an id given as an int or a string of digits (else None)."""
    if hasattr(value, "pk"):
        return value.pk
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isdigit() else None
