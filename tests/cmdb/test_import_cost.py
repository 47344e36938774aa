"""What a bulk import costs per row (cmdb.imports, services.import_cis): the number of queries stays
bounded, so a change can't quietly make every row dearer; and the cheaper path behind it
(CI.may_break_a_constraint, CIClass.pin_schema, services.tags_named, imports.Lookups) behaves exactly as
the plain one."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction

from cmdb import imports, services
from cmdb.models import CI, AttributeDefinition, Tag
from itom.models import ObjectChange
from tests.factories import CIFactory, ci_class

pytestmark = pytest.mark.django_db

ROWS = 20
# Queries per row on PostgreSQL and SQLite (docs/cmdb-integrations.md, "Import"): a new CI with
# tags and attributes costs 15 (30 before the import was made cheaper), an update of a field and
# of its tags (one removed, one added: three audit entries) 23, an unchanged row 4. FIXED covers
# what an import reads or creates once: the classes, the schema, the tags.
NEW_ROW, UPDATED_ROW, UNCHANGED_ROW = 16, 24, 5
FIXED = 20


def server_rows(count=ROWS, **changes):
    return [
        {
            "class": "linux-server",
            "name": f"web-{n:03d}",
            "fqdn": f"web-{n:03d}.shop.example.com",
            "ip_addresses": f"10.20.0.{n + 1}",
            "serial_number": f"SN-{n:05d}",
            "tags": "web,pci",
            "attr:cpu_count": "4",
            "attr:memory_mb": "8192",
            **changes,
        }
        for n in range(count)
    ]


def ci_changes(action):
    return ObjectChange.objects.filter(content_type=ContentType.objects.get_for_model(CI), action=action)


def test_a_bulk_import_costs_a_bounded_number_of_queries_per_row(django_assert_max_num_queries):
    with django_assert_max_num_queries(NEW_ROW * ROWS + FIXED):
        report = services.import_cis(server_rows())
    assert report.committed and report.created == ROWS, report.error_list()
    # Every write is still audited: each CI's creation, then its tags; each new tag.
    assert ci_changes("create").count() == ROWS and ci_changes("update").count() == ROWS
    assert ObjectChange.objects.filter(content_type=ContentType.objects.get_for_model(Tag)).count() == 2
    ci = CI.objects.get(name="web-007")
    assert sorted(ci.tags.values_list("name", flat=True)) == ["pci", "web"]
    assert ci.attributes == {"cpu_count": 4, "memory_mb": 8192}

    with django_assert_max_num_queries(UPDATED_ROW * ROWS + FIXED):
        report = services.import_cis(server_rows(status="maintenance", tags="web,db"))
    assert report.committed and report.updated == ROWS, report.error_list()
    assert set(report.rows[0].changed) == {"status", "tags"}

    with django_assert_max_num_queries(UNCHANGED_ROW * ROWS + FIXED):
        report = services.import_cis(server_rows(status="maintenance", tags="WEB,db"))
    assert report.unchanged == ROWS, report.error_list()


def test_a_dry_run_costs_the_same_and_keeps_nothing(django_assert_max_num_queries):
    with django_assert_max_num_queries(NEW_ROW * ROWS + FIXED):
        report = services.import_cis(server_rows(), dry_run=True)
    assert report.ok and report.created == ROWS and not report.committed
    assert not CI.objects.exists() and not Tag.objects.exists()


# --- CI.validate_constraints: Django's outcome, one query when nothing clashes ---------------------


@pytest.fixture
def estate():
    linux = ci_class("linux-server")
    CIFactory(
        name="web-01",
        ci_class=linux,
        serial_number="SN-1",
        fqdn="web-01.shop.example.com",
        external_id="EXT-1",
        environment="production",
    )
    CIFactory(name="bad-fqdn", ci_class=linux, fqdn="bad_host.example.com", environment="staging")
    return linux


NEW_CIS = {
    "valid": {"name": "web-02"},
    "name of the class, in another case": {"name": "WEB-01"},
    "name of another class": {"name": "web-01", "ci_class": "application"},
    "serial number": {"name": "web-02", "serial_number": "SN-1"},
    "fqdn, in another case": {"name": "web-02", "fqdn": "WEB-01.shop.example.com."},
    "fqdn in another environment": {"name": "web-02", "fqdn": "web-01.shop.example.com", "environment": "test"},
    "external id": {"name": "web-02", "external_id": "EXT-1"},
    "bad address and a serial clash": {"name": "web-02", "ip_addresses": ["10.0.0.300"], "serial_number": "SN-1"},
    "bad fqdn that clashes": {"name": "web-02", "fqdn": "bad_host.example.com", "environment": "staging"},
    "bad criticality": {"name": "web-02", "criticality": 9},
    "bad attribute and a name clash": {"name": "web-01", "attributes": {"cpu_count": "four"}},
    "every rule at once": {
        "name": "Web-01",
        "serial_number": "SN-1",
        "fqdn": "web-01.shop.example.com",
        "external_id": "EXT-1",
    },
}


def errors_of(ci):
    try:
        ci.full_clean()
    except ValidationError as exc:
        return exc.message_dict
    return {}


def django_errors_of(ci, monkeypatch):
    """What full_clean reports with Django checking every constraint itself (no shortcut)."""
    with monkeypatch.context() as patch:
        patch.setattr(CI, "may_break_a_constraint", lambda self: True)
        return errors_of(ci)


@pytest.mark.parametrize("case", NEW_CIS)
def test_the_shortcut_reports_what_django_reports_for_a_new_ci(estate, case, monkeypatch):
    def new():
        values = dict(NEW_CIS[case])
        values["ci_class"] = ci_class(values["ci_class"]) if "ci_class" in values else estate
        return CI(**values)

    expected = django_errors_of(new(), monkeypatch)
    assert errors_of(new()) == expected
    assert bool(expected) == (case not in ("valid", "name of another class", "fqdn in another environment"))


@pytest.mark.parametrize(
    "changes",
    [{}, {"description": "edited"}, {"serial_number": "SN-1"}, {"name": "WEB-01"}, {"fqdn": "web-01.shop.example.com"}],
)
def test_the_shortcut_reports_what_django_reports_for_an_existing_ci(estate, changes, monkeypatch):
    CIFactory(name="web-02", ci_class=estate, serial_number="SN-2", environment="production")

    def existing():
        ci = CI.objects.get(name="web-02")
        for name, value in changes.items():
            setattr(ci, name, value)
        return ci

    expected = django_errors_of(existing(), monkeypatch)
    assert errors_of(existing()) == expected
    assert bool(expected) == (len(changes) == 1 and "description" not in changes)


def test_a_valid_ci_has_its_constraints_checked_in_one_query(estate, django_assert_num_queries):
    ci = CI(name="web-02", ci_class=estate, serial_number="SN-2", fqdn="web-02.example.com", external_id="EXT-2")
    estate.pin_schema()
    # The class exists (a foreign key check), then all the rules at once.
    with django_assert_num_queries(2):
        ci.full_clean()


# --- the per-import caches ---------------------------------------------------------------------------


def names(definitions):
    return {definition.name for definition in definitions}


def test_a_pinned_class_reads_its_schema_once_until_saved_or_refreshed(django_assert_num_queries):
    linux = ci_class("linux-server")
    schema = linux.pin_schema()
    assert names(schema) >= {"cpu_count", "memory_mb"}
    with django_assert_num_queries(0):
        assert linux.effective_attributes() == schema
    AttributeDefinition.objects.create(ci_class=linux, name="rack_position")
    assert linux.effective_attributes() == schema  # what the import started with
    assert "rack_position" in names(ci_class("linux-server").effective_attributes())  # nothing else pins
    linux.refresh_from_db()
    assert "rack_position" in names(linux.effective_attributes())

    linux.pin_schema()
    services.save_class(linux, attributes=[])  # its own definitions go; the inherited ones stay
    assert "rack_position" not in names(linux.effective_attributes())


def test_tags_named_finds_every_existing_name_in_one_query_and_creates_the_rest(django_assert_num_queries):
    web, pci = Tag.objects.create(name="web"), Tag.objects.create(name="PCI")
    with django_assert_num_queries(1):
        assert services.tags_named(["WEB", "pci", web]) == [web, pci, web]
    found = services.tags_named(["Web", "db", "DB"])
    assert found[0] == web and found[1].pk is not None and found[2] == found[1]
    assert Tag.objects.filter(name__iexact="db").count() == 1
    # Names beyond ASCII are matched by the database's name__iexact, one by one, as always.
    strasse = services.tags_named(["Straße", "straße"])
    assert strasse[0] == strasse[1] and Tag.objects.filter(name__iexact="straße").count() == 1


def test_an_import_forgets_the_tags_a_rolled_back_row_created():
    lookups = imports.Lookups()
    with transaction.atomic():
        (fresh,) = lookups.tags(["fresh"])
        transaction.set_rollback(True)
    lookups.row_done(failed=True)
    (again,) = lookups.tags(["FRESH"])  # created anew, not the one rolled back
    assert again is not fresh and again.name == "FRESH" and Tag.objects.filter(pk=again.pk).exists()
    lookups.row_done(failed=False)
    assert lookups.tags(["fresh"]) == [again]
