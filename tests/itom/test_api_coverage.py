"""Every endpoint registered under /api/v1/ must have generic API tests (tests/api_testing.py)."""

import importlib
import pkgutil

from django.urls import get_resolver
from django.urls.resolvers import URLResolver
from rest_framework.viewsets import ViewSetMixin

import tests
from tests.api_testing import APIReadTests


def _registered_viewsets(patterns=None):
    found = set()
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            found |= _registered_viewsets(pattern.url_patterns)
        else:
            cls = getattr(pattern.callback, "cls", None)
            if cls is not None and issubclass(cls, ViewSetMixin):
                found.add(cls)
    return found


def _tested_viewsets():
    for module in pkgutil.walk_packages(tests.__path__, prefix="tests."):
        if module.name.rsplit(".", 1)[-1].startswith("test_"):
            importlib.import_module(module.name)
    tested, pending = set(), list(APIReadTests.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.viewset is not None:
            tested.add(cls.viewset)
    return tested


def test_every_registered_endpoint_has_generic_api_tests():
    registered = _registered_viewsets()
    assert registered, "no viewsets found: the URL walk is broken"
    missing = {f"{cls.__module__}.{cls.__name__}" for cls in registered - _tested_viewsets()}
    assert not missing, f"endpoints without generic API tests (tests/api_testing.py): {sorted(missing)}"
