from django import forms


def bootstrap_form(form):
    """Give a form's widgets Bootstrap's classes (used by the generic views for every form)."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, (forms.CheckboxInput, forms.CheckboxSelectMultiple, forms.RadioSelect)):
            css = "form-check-input"
        elif isinstance(widget, (forms.Select, forms.SelectMultiple)):
            css = "form-select"
        else:
            css = "form-control"
        widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()
    return form


def errors_to_form(form, exc, aliases=None):
    """Put a service's ``ValidationError`` on the form: each message on the field it names (or
    the form's field an alias maps it to), the rest — fields the form does not show — on top."""
    aliases = aliases or {}
    errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
    for field, field_messages in errors.items():
        field = aliases.get(field, field)
        form.add_error(field if field in form.fields else None, field_messages)
