"""Attribute schemas: each CI class defines typed attributes (``AttributeDefinition``), inherited
by its subclasses; a CI's ``attributes`` JSON is validated against its class's effective schema.

Values are stored as JSON natives: strings, integers, numbers, booleans, dates as ``YYYY-MM-DD``
strings, choices as one of the allowed strings, IP addresses in their compressed form.

``validate`` is strict (JSON input: ``"8"`` is not an integer). ``coerce`` turns text (CSV
cells, form fields, host facts) into the typed value first.
"""

import datetime
import ipaddress
import math

from django.core.exceptions import ValidationError

from cmdb.choices import AttributeType

TRUE_WORDS = {"true", "yes", "y", "1", "on"}
FALSE_WORDS = {"false", "no", "n", "0", "off"}


def check_value(definition, value):
    """The stored form of ``value`` for ``definition``, or ``ValueError`` saying what is wrong."""
    kind = definition.type
    if kind == AttributeType.STRING:
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {_shown(value)}")
        return value
    if kind == AttributeType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ValueError(f"expected a whole number, got {_shown(value)}")
        return value
    if kind == AttributeType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"expected a number, got {_shown(value)}")
        return value
    if kind == AttributeType.BOOLEAN:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {_shown(value)}")
        return value
    if kind == AttributeType.DATE:
        if not isinstance(value, str):
            raise ValueError(f"expected a date as YYYY-MM-DD, got {_shown(value)}")
        try:
            return datetime.date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError(f"expected a date as YYYY-MM-DD, got {_shown(value)}") from None
    if kind == AttributeType.CHOICE:
        if value not in (definition.choices or []):
            allowed = ", ".join(definition.choices or []) or "none defined"
            raise ValueError(f"{_shown(value)} is not one of the choices ({allowed})")
        return value
    if kind == AttributeType.IP:
        if not isinstance(value, str):
            raise ValueError(f"expected an IP address, got {_shown(value)}")
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError(f"{_shown(value)} is not a valid IPv4 or IPv6 address") from None
    raise ValueError(f"unknown attribute type {kind!r}")


def coerce(definition, text):
    """Turn a text value (CSV cell, form input) into the attribute's type; ``""`` means absent
    (returns None). Raises ``ValueError`` with the reason."""
    if text is None:
        return None
    if not isinstance(text, str):
        return check_value(definition, text)
    text = text.strip()
    if text == "":
        return None
    kind = definition.type
    try:
        if kind == AttributeType.INTEGER:
            return int(text)
        if kind == AttributeType.NUMBER:
            return check_value(definition, float(text))
    except ValueError:
        raise ValueError(
            f"expected a {'whole ' if kind == AttributeType.INTEGER else ''}number, got {text!r}"
        ) from None
    if kind == AttributeType.BOOLEAN:
        if text.lower() in TRUE_WORDS:
            return True
        if text.lower() in FALSE_WORDS:
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    return check_value(definition, text)


def validate_attributes(attributes, definitions, class_name):
    """Check a CI's ``attributes`` against ``definitions`` (the class's effective schema).

    Returns the cleaned dict; raises ``ValidationError({"attributes": [...]})`` with one message
    per bad attribute: unknown names, missing required ones, wrong types."""
    if attributes in (None, ""):
        attributes = {}
    if not isinstance(attributes, dict):
        raise ValidationError({"attributes": "Must be an object of attribute names to values."})
    by_name = {d.name: d for d in definitions}
    errors, cleaned = [], {}
    for name, value in attributes.items():
        definition = by_name.get(name)
        if definition is None:
            known = ", ".join(sorted(by_name)) or "none"
            errors.append(f"{name}: not an attribute of class “{class_name}” (its attributes: {known}).")
            continue
        if value is None or value == "":
            continue
        try:
            cleaned[name] = check_value(definition, value)
        except ValueError as exc:
            errors.append(f"{name}: {exc}.")
    for definition in definitions:
        if definition.required and definition.name not in cleaned:
            errors.append(f"{definition.name}: required by class “{class_name}”.")
    if errors:
        raise ValidationError({"attributes": errors})
    return cleaned


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
