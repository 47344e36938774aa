from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()


@register.simple_tag
def object_url(obj, action="detail"):
    """The URL of ``<app>:<model>_<action>`` for ``obj`` (detail, edit, delete, history)."""
    opts = obj._meta
    try:
        return reverse(f"{opts.app_label}:{opts.model_name}_{action}", args=[obj.pk])
    except NoReverseMatch:
        return ""


@register.filter
def sort_param(column, current):
    """The ``sort`` value a column header links to: ascending first, then descending."""
    return f"-{column.sort}" if current == column.sort else column.sort


@register.filter
def change_badge(action):
    return {"create": "success", "update": "primary", "delete": "danger"}.get(action, "secondary")
