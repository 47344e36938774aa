"""Query parameters the API's list actions share."""

from rest_framework import serializers


def kinds_param(params, choices):
    """The ``?kind=`` filter of a timeline: repeated or comma-separated values, each one of
    ``choices`` (a TextChoices); an unknown one is a 400 naming them. [] when none is given."""
    kinds = [kind for value in params.getlist("kind") for kind in value.split(",") if kind]
    unknown = sorted(set(kinds) - set(choices.values))
    if unknown:
        raise serializers.ValidationError(
            {"kind": [f"Unknown kind(s) {', '.join(unknown)}: one of {', '.join(choices.values)}."]}
        )
    return kinds
