"""The catalogue pages: CI classes with their attribute schema, relationship types and tags."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cmdb.models import CI, AttributeDefinition, CIClass, Relationship, RelationshipType, Tag
from itom.models import ObjectChange
from tests.factories import CIClassFactory, CIFactory, RelationshipFactory, ci_class, relationship_type

pytestmark = pytest.mark.django_db


def formset_data(rows, prefix="attributes", initial=0):
    """POST data for the attribute formset: ``rows`` are dicts of a row's fields."""
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        values = {"type": "string", "order": "0", **row}
        for key, value in values.items():
            if value is True:
                value = "on"
            if value is False:
                continue
            data[f"{prefix}-{index}-{key}"] = value
    return data


def class_data(name, slug, parent=None, rows=(), initial=0, **fields):
    data = {"name": name, "slug": slug, "description": "", **fields}
    if parent is not None:
        data["parent"] = str(parent.pk)
    data.update(formset_data(list(rows), initial=initial))
    return data


def existing_row(definition, **changes):
    row = {
        "id": str(definition.pk),
        "ci_class": str(definition.ci_class_id),
        "name": definition.name,
        "label": definition.label,
        "type": definition.type,
        "required": definition.required,
        "choices": ", ".join(definition.choices),
        "help_text": definition.help_text,
        "order": str(definition.order),
    }
    row.update(changes)
    return row


# CI classes ---------------------------------------------------------------------------------


def test_every_role_reads_the_class_list_but_only_managers_shape_classes(client, alice, victor, maria):
    server = ci_class("server")
    for user, is_manager in ((alice, False), (victor, False), (maria, True)):
        client.force_login(user)
        response = client.get("/cmdb/classes/")
        assert response.status_code == 200
        body = response.content.decode()
        assert "Linux server" in body
        assert ("Add CI class" in body) is is_manager
        assert client.get(f"/cmdb/classes/{server.pk}/").status_code == 200
        expected = 200 if is_manager else 403
        assert client.get("/cmdb/classes/add/").status_code == expected
        assert client.get(f"/cmdb/classes/{server.pk}/edit/").status_code == expected
        assert client.get(f"/cmdb/classes/{server.pk}/delete/").status_code == expected


def test_an_agent_cannot_add_or_edit_a_class_by_posting(alice_client):
    server = ci_class("server")
    assert alice_client.post("/cmdb/classes/add/", class_data("Blade", "blade")).status_code == 403
    response = alice_client.post(f"/cmdb/classes/{server.pk}/edit/", class_data("Renamed", "server"))
    assert response.status_code == 403
    assert alice_client.post(f"/cmdb/classes/{server.pk}/delete/").status_code == 403
    assert not CIClass.objects.filter(slug="blade").exists()
    assert CIClass.objects.get(pk=server.pk).name == "Server"


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/cmdb/classes/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_class_list_shows_the_hierarchy_with_parents_and_ci_counts(maria_client):
    linux = ci_class("linux-server")
    CIFactory.create_batch(3, ci_class=linux)
    response = maria_client.get("/cmdb/classes/")
    rows = {obj.slug: {column.label: value for column, value in cells} for obj, cells in response.context["rows"]}
    assert rows["linux-server"]["Parent class"] == "Server"
    assert rows["linux-server"]["CIs"] == 3 and rows["linux-server"]["CIs incl. subclasses"] == "3"
    assert rows["server"]["CIs"] == 0 and rows["server"]["CIs incl. subclasses"] == "3"
    assert rows["hardware"]["CIs incl. subclasses"] == "3" and rows["application"]["CIs incl. subclasses"] == 0
    assert rows["server"]["Subclasses"] == 2
    order = [obj.slug for obj, _ in response.context["rows"]]
    # Tree order: each class right after its parent's earlier siblings' subtrees, indented by depth.
    assert order.index("hardware") < order.index("server") < order.index("linux-server")
    assert order.index("linux-server") < order.index("windows-server") < order.index("storage-array")
    body = response.content.decode()
    assert "padding-left: 1.25rem" in body  # Linux server, two levels down
    assert f'href="/cmdb/cis/?ci_class={linux.pk}"' in body


def test_the_class_list_sorts_by_a_column_and_exports_csv(maria_client):
    response = maria_client.get("/cmdb/classes/", {"sort": "-name"})
    names = [obj.name for obj, _ in response.context["rows"]]
    assert names == sorted(names, reverse=True)
    export = maria_client.get("/cmdb/classes/", {"export": "csv"})
    text = b"".join(export.streaming_content).decode()
    assert text.splitlines()[0] == "Name,Slug,Parent class,Business service,Subclasses,CIs,CIs incl. subclasses"
    assert "Linux server,linux-server,Server,No,0,0,0" in text
    assert "<span" not in text


def queries_for(client, url):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, {"per_page": 200}).status_code == 200
    return len(captured)


def test_the_catalogue_lists_run_a_constant_number_of_queries(maria_client):
    urls = ("/cmdb/classes/", "/cmdb/relationship-types/", "/cmdb/tags/")
    parent = ci_class("server")

    def add(count, start=0):
        for i in range(start, start + count):
            child = CIClassFactory(name=f"Extra {i}", parent=parent)
            RelationshipType.objects.create(slug=f"kind-{i}", forward_label=f"kind {i}", reverse_label=f"of {i}")
            RelationshipFactory(source=CIFactory(ci_class=child, tags=[f"tag-{i}"]))

    add(1)
    before = [queries_for(maria_client, url) for url in urls]
    add(30, start=1)
    assert [queries_for(maria_client, url) for url in urls] == before


def test_a_manager_creates_a_class_with_attributes(maria_client, maria):
    server = ci_class("server")
    data = class_data(
        "Blade server",
        "blade-server",
        parent=server,
        rows=[
            {"name": "chassis", "label": "Chassis", "required": True, "order": "1"},
            {"name": "blade_size", "type": "choice", "choices": "half, full ,", "help_text": "Slot width"},
        ],
    )
    response = maria_client.post("/cmdb/classes/add/", data)
    blade = CIClass.objects.get(slug="blade-server")
    assert response.status_code == 302 and response["Location"] == f"/cmdb/classes/{blade.pk}/"
    assert blade.parent == server
    definitions = {d.name: d for d in blade.attribute_definitions.all()}
    assert set(definitions) == {"chassis", "blade_size"}
    assert definitions["chassis"].required and definitions["chassis"].label == "Chassis"
    assert definitions["blade_size"].choices == ["half", "full"]
    assert definitions["blade_size"].help_text == "Slot width"
    assert ObjectChange.objects.filter(object_repr="Blade server", action="create", user=maria).exists()
    assert ObjectChange.objects.filter(action="create", object_repr="Blade server: blade_size").exists()


def test_a_subclass_page_shows_its_own_and_its_inherited_attributes(maria_client):
    server = ci_class("server")
    maria_client.post(
        "/cmdb/classes/add/",
        class_data("Blade server", "blade-server", parent=server, rows=[{"name": "chassis"}]),
    )
    blade = CIClass.objects.get(slug="blade-server")
    CIFactory(ci_class=blade, name="blade-01")
    response = maria_client.get(f"/cmdb/classes/{blade.pk}/")
    assert [c.name for c in response.context["class_path"]] == ["Hardware", "Server", "Blade server"]
    attributes = {d.name: source for d, source in response.context["attributes"]}
    assert attributes["chassis"] is None  # this class's own
    assert attributes["rack_unit"].slug == "hardware"
    assert attributes["cpu_count"].slug == "server"
    assert list(attributes)[-1] == "chassis"  # inherited first, nearest class last
    body = response.content.decode()
    assert "inherited</span> from <a" in body and ">Hardware</a>" in body
    assert f'href="/cmdb/cis/?ci_class={blade.pk}"' in body
    # The parent lists it as a subclass, and its CIs count with the subclasses'.
    parent_page = maria_client.get(f"/cmdb/classes/{server.pk}/")
    assert blade in parent_page.context["subclasses"]
    assert parent_page.context["ci_count"] == 0 and parent_page.context["ci_count_with_subclasses"] == 1
    assert "Add subclass" in parent_page.content.decode()


def test_a_name_clashing_with_an_inherited_attribute_is_a_row_error_and_nothing_is_written(maria_client):
    server = ci_class("server")
    before = (CIClass.objects.count(), AttributeDefinition.objects.count(), ObjectChange.objects.count())
    data = class_data("Blade server", "blade-server", parent=server, rows=[{"name": "chassis"}, {"name": "rack_unit"}])
    response = maria_client.post("/cmdb/classes/add/", data)
    assert response.status_code == 200
    formset = response.context["formset"]
    assert formset.forms[1].errors["name"] == ["Class “Hardware” already defines “rack_unit” in this hierarchy."]
    assert "already defines" in response.content.decode()
    assert (CIClass.objects.count(), AttributeDefinition.objects.count(), ObjectChange.objects.count()) == before


def test_a_new_attribute_clashing_with_a_subclass_attribute_is_refused(maria_client):
    hardware = ci_class("hardware")
    own = list(hardware.attribute_definitions.all())
    rows = [existing_row(d) for d in own] + [{"name": "asn", "type": "integer"}]  # the Router defines asn
    response = maria_client.post(
        f"/cmdb/classes/{hardware.pk}/edit/", class_data("Hardware", "hardware", rows=rows, initial=len(own))
    )
    assert response.status_code == 200
    assert "Class “Router” already defines “asn”" in str(response.context["formset"].forms[-1].errors)
    assert not hardware.attribute_definitions.filter(name="asn").exists()


def test_a_choice_attribute_without_choices_is_a_row_error(maria_client):
    data = class_data("Appliance", "appliance", rows=[{"name": "mode", "type": "choice", "choices": " , "}])
    response = maria_client.post("/cmdb/classes/add/", data)
    assert response.status_code == 200
    assert "choices" in response.context["formset"].forms[0].errors
    assert not CIClass.objects.filter(slug="appliance").exists()


def test_the_same_name_twice_in_one_class_is_a_row_error(maria_client):
    data = class_data("Appliance", "appliance", rows=[{"name": "mode"}, {"name": "mode"}])
    response = maria_client.post("/cmdb/classes/add/", data)
    assert response.status_code == 200
    assert not CIClass.objects.filter(slug="appliance").exists()
    assert "appears twice" in response.content.decode() or response.context["formset"].non_form_errors()


def test_a_class_cannot_be_placed_below_its_own_subclass(maria_client):
    hardware, server = ci_class("hardware"), ci_class("server")
    own = list(hardware.attribute_definitions.all())
    data = class_data("Hardware", "hardware", parent=server, rows=[existing_row(d) for d in own], initial=len(own))
    response = maria_client.post(f"/cmdb/classes/{hardware.pk}/edit/", data)
    assert response.status_code == 200
    assert "below itself" in str(response.context["form"].errors["parent"])
    hardware.refresh_from_db()
    assert hardware.parent is None


def test_a_class_cannot_move_below_a_parent_whose_attributes_it_defines(maria_client):
    vm, server = ci_class("virtual-machine"), ci_class("server")
    own = list(vm.attribute_definitions.all())
    data = class_data(
        "Virtual machine", "virtual-machine", parent=server, rows=[existing_row(d) for d in own], initial=len(own)
    )
    response = maria_client.post(f"/cmdb/classes/{vm.pk}/edit/", data)
    assert response.status_code == 200
    assert "cpu_count" in str(response.context["form"].errors["parent"])
    vm.refresh_from_db()
    assert vm.parent is None


def test_editing_a_class_updates_deletes_and_adds_attributes(maria_client):
    app = ci_class("application")
    definitions = {d.name: d for d in app.attribute_definitions.all()}
    rows = [
        existing_row(definitions["version"], label="Release", required=True),
        existing_row(definitions["url"], DELETE=True),
        existing_row(definitions["port"]),
        {"name": "language", "type": "choice", "choices": "python, java, go"},
        {},  # an empty extra row is ignored
    ]
    data = class_data("Application", "application", rows=rows, initial=3, description="Software.")
    response = maria_client.post(f"/cmdb/classes/{app.pk}/edit/", data)
    assert response.status_code == 302, response.context and response.context["formset"].errors
    after = {d.name: d for d in app.attribute_definitions.all()}
    assert set(after) == {"version", "port", "language"}
    assert after["version"].pk == definitions["version"].pk and after["version"].label == "Release"
    assert after["version"].required
    assert after["language"].choices == ["python", "java", "go"]
    # The edit form shows choices as text.
    page = maria_client.get(f"/cmdb/classes/{app.pk}/edit/").content.decode()
    assert 'value="python, java, go"' in page


def test_an_error_the_service_still_raises_is_shown_on_the_form_and_nothing_is_kept(maria_client, monkeypatch):
    from django.core.exceptions import ValidationError

    from cmdb import services

    real_save_class = services.save_class

    def save_then_refuse(ci_class, attributes=None):
        real_save_class(ci_class, attributes=attributes)  # written, then rolled back
        raise ValidationError({"name": ["Changed meanwhile by someone else."]})

    monkeypatch.setattr(services, "save_class", save_then_refuse)
    before = (CIClass.objects.count(), AttributeDefinition.objects.count(), ObjectChange.objects.count())
    response = maria_client.post("/cmdb/classes/add/", class_data("Appliance", "appliance", rows=[{"name": "mode"}]))
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["name: Changed meanwhile by someone else."]
    assert response.context.get("object") is None  # still the add form
    assert response.context["form"].instance.pk is None
    assert response.context["formset"].forms[0].instance.pk is None
    assert (CIClass.objects.count(), AttributeDefinition.objects.count(), ObjectChange.objects.count()) == before


def test_the_add_form_offers_a_parent_from_the_query_string(maria_client):
    server = ci_class("server")
    response = maria_client.get("/cmdb/classes/add/", {"parent": server.pk})
    assert response.context["form"].initial["parent"] == server
    assert 'id="attribute-row-template"' in response.content.decode()


def test_a_class_still_in_use_is_not_deleted_and_the_page_says_why(maria_client):
    server = ci_class("server")
    response = maria_client.post(f"/cmdb/classes/{server.pk}/delete/", follow=True)
    assert "still used by 2 subclasses" in response.content.decode()
    linux = ci_class("linux-server")
    CIFactory(ci_class=linux)
    response = maria_client.post(f"/cmdb/classes/{linux.pk}/delete/", follow=True)
    assert "still used by 1 CI and was not deleted" in response.content.decode()
    assert CIClass.objects.filter(pk__in=[server.pk, linux.pk]).count() == 2
    unused = ci_class("windows-server")
    response = maria_client.post(f"/cmdb/classes/{unused.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/cmdb/classes/"
    assert not CIClass.objects.filter(pk=unused.pk).exists()
    assert not AttributeDefinition.objects.filter(ci_class_id=unused.pk).exists()


def test_the_class_history_tab_lists_its_changes(maria_client):
    app = ci_class("application")
    maria_client.post(
        f"/cmdb/classes/{app.pk}/edit/",
        class_data(
            "Application",
            "application",
            rows=[existing_row(d) for d in app.attribute_definitions.all()],
            initial=3,
            description="Changed.",
        ),
    )
    response = maria_client.get(f"/cmdb/classes/{app.pk}/history/")
    assert response.status_code == 200
    assert "Changed." in response.content.decode()


# Relationship types ---------------------------------------------------------------------------


def test_relationship_types_list_labels_propagation_and_use(client, victor, maria):
    depends = relationship_type("depends-on")
    RelationshipFactory.create_batch(2, type=depends)
    client.force_login(victor)
    response = client.get("/cmdb/relationship-types/")
    assert response.status_code == 200
    rows = {obj.slug: {c.label: v for c, v in cells} for obj, cells in response.context["rows"]}
    assert rows["depends-on"]["Forward label"] == "depends on"
    assert rows["depends-on"]["Relationships"] == 2
    assert rows["depends-on"]["Failure propagates"] in ("Yes", "No")
    assert "Add relationship type" not in response.content.decode()
    detail = client.get(f"/cmdb/relationship-types/{depends.pk}/")
    assert detail.status_code == 200
    assert ("Relationships", 2) in detail.context["detail_rows"]
    assert "How it reads" in detail.content.decode()
    client.force_login(maria)
    assert "Add relationship type" in client.get("/cmdb/relationship-types/").content.decode()


def test_a_manager_adds_edits_and_deletes_a_relationship_type(maria_client):
    data = {"slug": "replicates-to", "forward_label": "replicates to", "reverse_label": "replica of"}
    response = maria_client.post("/cmdb/relationship-types/add/", data)
    kind = RelationshipType.objects.get(slug="replicates-to")
    assert response["Location"] == f"/cmdb/relationship-types/{kind.pk}/"
    assert not kind.propagates_failure  # an unticked box
    maria_client.post(f"/cmdb/relationship-types/{kind.pk}/edit/", {**data, "propagates_failure": "on"})
    kind.refresh_from_db()
    assert kind.propagates_failure
    assert maria_client.post(f"/cmdb/relationship-types/{kind.pk}/delete/").status_code == 302
    assert not RelationshipType.objects.filter(pk=kind.pk).exists()


def test_a_relationship_type_in_use_is_not_deleted(maria_client):
    depends = relationship_type("depends-on")
    RelationshipFactory(type=depends)
    response = maria_client.post(f"/cmdb/relationship-types/{depends.pk}/delete/", follow=True)
    assert "is used by 1 relationship and was not deleted" in response.content.decode()
    assert Relationship.objects.filter(type=depends).count() == 1


def test_a_duplicate_relationship_type_slug_is_a_form_error(maria_client):
    response = maria_client.post(
        "/cmdb/relationship-types/add/", {"slug": "depends-on", "forward_label": "x", "reverse_label": "y"}
    )
    assert response.status_code == 200
    assert "slug" in response.context["form"].errors


def test_agents_may_not_shape_relationship_types(alice_client):
    depends = relationship_type("depends-on")
    assert alice_client.get("/cmdb/relationship-types/add/").status_code == 403
    response = alice_client.post(f"/cmdb/relationship-types/{depends.pk}/edit/", {"slug": "x"})
    assert response.status_code == 403
    assert alice_client.post(f"/cmdb/relationship-types/{depends.pk}/delete/").status_code == 403


# Tags ---------------------------------------------------------------------------------------


def test_the_tag_list_shows_ci_counts_linking_to_the_cis(alice_client):
    CIFactory.create_batch(2, tags=["pci"])
    Tag.objects.create(name="unused")
    response = alice_client.get("/cmdb/tags/")
    rows = {obj.name: {c.label: v for c, v in cells} for obj, cells in response.context["rows"]}
    assert rows["pci"]["CIs"] == "2" and rows["unused"]["CIs"] == 0
    body = response.content.decode()
    assert 'href="/cmdb/cis/?tag=pci"' in body
    pci = Tag.objects.get(name="pci")
    assert f'href="/cmdb/tags/{pci.pk}/"' in body
    detail = alice_client.get(f"/cmdb/tags/{pci.pk}/")
    assert detail.context["ci_list_url"] == "/cmdb/cis/?tag=pci"


def test_agents_add_edit_and_delete_tags(alice_client, alice):
    response = alice_client.post("/cmdb/tags/add/", {"name": "pci", "description": "Card data"})
    tag = Tag.objects.get(name="pci")
    assert response["Location"] == f"/cmdb/tags/{tag.pk}/"
    ci = CIFactory(tags=[tag])
    alice_client.post(f"/cmdb/tags/{tag.pk}/edit/", {"name": "pci-dss", "description": "Card data"})
    tag.refresh_from_db()
    assert tag.name == "pci-dss"
    response = alice_client.post(f"/cmdb/tags/{tag.pk}/delete/")
    assert response["Location"] == "/cmdb/tags/"
    assert not Tag.objects.exists() and list(CI.objects.get(pk=ci.pk).tags.all()) == []
    assert ObjectChange.objects.filter(object_repr="pci-dss", action="delete", user=alice).exists()


def test_a_bad_tag_name_is_a_form_error(alice_client):
    response = alice_client.post("/cmdb/tags/add/", {"name": "has spaces"})
    assert response.status_code == 200 and "name" in response.context["form"].errors
    assert not Tag.objects.exists()


def test_viewers_only_read_tags(client, victor):
    tag = Tag.objects.create(name="pci")
    client.force_login(victor)
    assert client.get("/cmdb/tags/").status_code == 200
    assert client.get(f"/cmdb/tags/{tag.pk}/").status_code == 200
    assert client.get("/cmdb/tags/add/").status_code == 403
    assert client.post(f"/cmdb/tags/{tag.pk}/delete/").status_code == 403


# The CMDB's section menu ----------------------------------------------------------------------


@pytest.mark.parametrize(("who", "sees_import"), [("victor", False), ("alice", True), ("maria", True)])
def test_the_section_menu_shows_what_each_role_may_open(client, people, who, sees_import):
    client.force_login(people[who])
    body = client.get("/cmdb/tags/").content.decode()
    for name in ("cmdb:ci_list", "cmdb:ciclass_list", "cmdb:relationshiptype_list", "cmdb:tag_list"):
        assert f'href="{reverse(name)}"' in body
    assert ('href="/cmdb/import/"' in body) is sees_import
    assert 'class="nav-link active" aria-current="page" href="/cmdb/tags/"' in body
