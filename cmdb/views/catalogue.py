"""CI classes (with their attribute schemas), relationship types and tags.

Every signed-in role reads them; the generic views check ``cmdb.<action>_<model>`` for writes, so
classes and relationship types are shaped by managers and tags by agents and managers.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, Count, IntegerField, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from cmdb import services
from cmdb.filters import CIClassFilterSet, RelationshipTypeFilterSet, TagFilterSet
from cmdb.forms.catalogue import AttributeFormSet, CIClassForm, RelationshipTypeForm, TagForm
from cmdb.models import CI, CIClass, Relationship, RelationshipType, Tag
from itom.generic import (
    Column,
    ObjectDeleteView,
    ObjectDetailView,
    ObjectEditView,
    ObjectHistoryView,
    ObjectListView,
)


class Cell(str):
    """A list cell that renders as ``html`` on the page and as its plain text in the CSV export
    (the generic table escapes plain values; this one brings its own, already escaped, markup)."""

    def __new__(cls, text, html):
        cell = super().__new__(cls, text)
        cell.html = html
        return cell

    def __html__(self):
        return self.html


def ci_list_url(**params):
    """The CI list filtered by ``params`` (``ci_class=<id>``, ``tag=<name>``)."""
    return f"{reverse('cmdb:ci_list')}?{urlencode(params)}"


def count_of(model, field):
    """How many ``model`` rows point at each row of the outer query through ``field``: a
    correlated subquery, so the outer query needs no GROUP BY and stays one query per page."""
    counted = (
        model._base_manager.filter(**{field: OuterRef("pk")})
        .order_by()
        .values(field)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


@dataclass
class CountColumn(Column):
    """A count annotation, linked to the CI list filtered by ``filter_param`` when non-zero."""

    filter_param: str = ""
    filter_attr: str = "pk"

    def value(self, obj):
        count = getattr(obj, self.accessor, 0) or 0
        if not count or not self.filter_param:
            return count
        url = ci_list_url(**{self.filter_param: getattr(obj, self.filter_attr)})
        return Cell(str(count), format_html('<a href="{}">{}</a>', url, count))


@dataclass
class TreeNameColumn(Column):
    """The class name, indented by its depth in the hierarchy (when the list is in tree order)."""

    def value(self, obj):
        depth = getattr(obj, "tree_depth", 0) or 0
        if not depth:
            return obj.name
        return Cell(
            obj.name,
            format_html(
                '<span class="text-body-tertiary" style="padding-left: {}rem" aria-hidden="true">└</span> {}',
                f"{(depth - 1) * 1.25:g}",
                obj.name,
            ),
        )


def tree_order():
    """``(ids in tree order, {class id: depth}, {class id: parent id})`` for the whole hierarchy,
    depth first with siblings by name (one query; classes number in the hundreds)."""
    rows = list(CIClass._base_manager.values_list("id", "parent_id", "name"))
    known = {pk for pk, _, _ in rows}
    parents = {pk: parent for pk, parent, _ in rows}
    children = {}
    for pk, parent, name in rows:
        children.setdefault(parent if parent in known else None, []).append((name.lower(), pk))
    order, depth = [], {}
    pending = [(pk, 0) for _, pk in sorted(children.get(None, []), reverse=True)]
    while pending:
        pk, level = pending.pop()
        if pk in depth:
            continue
        order.append(pk)
        depth[pk] = level
        pending.extend((child, level + 1) for _, child in sorted(children.get(pk, []), reverse=True))
    return order, depth, parents


def ci_totals(parents):
    """``{class id: CIs of the class and its subclasses}`` (one grouped query)."""
    totals = {}
    counts = CI.objects.order_by().values_list("ci_class_id").annotate(n=Count("pk"))
    for class_id, count in counts:
        seen, pk = set(), class_id
        while pk is not None and pk not in seen:
            seen.add(pk)
            totals[pk] = totals.get(pk, 0) + count
            pk = parents.get(pk)
    return totals


class ServiceDeleteView(ObjectDeleteView):
    """Delete through the service named by ``delete_with`` (a ``cmdb.services`` function name);
    ``refusal(obj)`` may say why the object can't go (it is still in use)."""

    delete_with = ""

    def refusal(self, obj):
        return None

    def delete_object(self, obj):
        getattr(services, self.delete_with)(obj)

    def form_valid(self, form):
        reason = self.refusal(self.object)
        if reason is not None:
            messages.error(self.request, reason)
            return redirect(self.object.get_absolute_url())
        return super().form_valid(form)


def _plural(count, word, suffix="s"):
    return f"{count} {word}{'' if count == 1 else suffix}"


def _case(mapping, default):
    if not mapping:
        return Value(default, output_field=IntegerField())
    return Case(
        *(When(pk=pk, then=Value(value)) for pk, value in mapping.items()),
        default=Value(default),
        output_field=IntegerField(),
    )


# CI classes ---------------------------------------------------------------------------------


class CIClassListView(ObjectListView):
    """The hierarchy: in tree order (indented) unless the user sorts by a column."""

    model = CIClass
    filterset_class = CIClassFilterSet
    template_name = "cmdb/ciclass_list.html"

    def get_base_queryset(self):
        order, depth, parents = tree_order()
        return (
            CIClass.objects.select_related("parent")
            .annotate(
                tree_position=_case({pk: i for i, pk in enumerate(order)}, len(order)),
                tree_depth=_case(depth, 0),
                ci_count=count_of(CI, "ci_class"),
                ci_total=_case(ci_totals(parents), 0),
                subclass_count=count_of(CIClass, "parent"),
            )
            .order_by("tree_position", "name")
        )

    def get_columns(self):
        sorted_by_column = bool(self.request.GET.get("sort"))
        name = Column("name", link=True) if sorted_by_column else TreeNameColumn("name", link=True)
        columns = [
            name,
            Column("slug"),
            Column("parent.name", label="Parent class", sort="parent__name"),
            Column("is_business_service", label="Business service"),
            Column("subclass_count", label="Subclasses"),
            Column("ci_count", label="CIs"),
            CountColumn("ci_total", label="CIs incl. subclasses", filter_param="ci_class"),
        ]
        return [column.with_defaults(self.model) for column in columns]


class CIClassDetailView(ObjectDetailView):
    model = CIClass
    queryset = CIClass.objects.select_related("parent")
    fields = ["slug", "parent", "description", ("Business service", "is_business_service")]

    def get_context_data(self, **kwargs):
        ci_class = self.object
        path = ci_class.path()
        names = {c.pk: c for c in path}
        attributes = [
            (definition, None if definition.ci_class_id == ci_class.pk else names.get(definition.ci_class_id))
            for definition in ci_class.effective_attributes()
        ]
        subclasses = ci_class.children.annotate(ci_count=count_of(CI, "ci_class")).order_by("name")
        kwargs.update(
            class_path=path,
            attributes=attributes,
            subclasses=subclasses,
            ci_count=ci_class.cis.count(),
            ci_count_with_subclasses=CI.objects.filter(
                ci_class_id__in=CIClass.objects.descendant_ids(ci_class.pk)
            ).count(),
            ci_list_url=ci_list_url(ci_class=ci_class.pk),
            can_add_class=self.request.user.has_perm("cmdb.add_ciclass"),
        )
        return super().get_context_data(**kwargs)


class CIClassEditView(ObjectEditView):
    """Add or edit a class and its own attributes in one form; the write goes through
    ``cmdb.services.save_class``, so nothing is saved unless the class and every row are valid."""

    model = CIClass
    form_class = CIClassForm
    template_name = "cmdb/ciclass_form.html"
    formset_prefix = "attributes"

    def get_initial(self):
        initial = super().get_initial()
        parent = self.request.GET.get("parent", "")
        if "pk" not in self.kwargs and parent.isdigit():
            initial["parent"] = CIClass.objects.filter(pk=parent).first()
        return initial

    def get_formset(self, instance):
        data = self.request.POST if self.request.method == "POST" else None
        return AttributeFormSet(data, instance=instance, prefix=self.formset_prefix)

    def get_context_data(self, **kwargs):
        if "formset" not in kwargs:
            kwargs["formset"] = self.get_formset(self.object or CIClass())
        return super().get_context_data(**kwargs)

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        form = self.get_form()
        form_valid = form.is_valid()
        # The rows are checked against the class as the form would leave it (its new parent).
        formset = self.get_formset(form.instance)
        if form_valid and formset.is_valid():
            return self.form_valid(form, formset)
        return self.render_to_response(self.get_context_data(form=form, formset=formset))

    def form_valid(self, form, formset):
        ci_class, attributes = form.save(commit=False), formset.attributes()
        unsaved = [obj for obj in (ci_class, *attributes) if obj.pk is None]
        try:
            with transaction.atomic():
                self.object = services.save_class(ci_class, attributes=attributes)
        except ValidationError as exc:
            # The form and the rows were checked already; what the service still refuses (a
            # concurrent edit, say) goes on top of the form, naming the field.
            for obj in unsaved:  # their rows were rolled back
                obj.pk, obj._state.adding = None, True
            errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
            for field, field_messages in errors.items():
                for message in field_messages:
                    form.add_error(None, f"{field}: {message}" if field and field != "__all__" else message)
            self.object = ci_class if ci_class.pk else None
            return self.render_to_response(self.get_context_data(form=form, formset=formset))
        messages.success(self.request, f"Saved CI class “{self.object}”.")
        return redirect(self.object.get_absolute_url())


class CIClassDeleteView(ServiceDeleteView):
    """Refused, saying why, while CIs or subclasses still use the class."""

    model = CIClass
    delete_with = "delete_class"

    def refusal(self, ci_class):
        uses = []
        if cis := ci_class.cis.count():
            uses.append(_plural(cis, "CI"))
        if subclasses := ci_class.children.count():
            uses.append(_plural(subclasses, "subclass", "es"))
        if uses:
            return f"“{ci_class}” is still used by {' and '.join(uses)} and was not deleted."
        return None


class CIClassHistoryView(ObjectHistoryView):
    model = CIClass


# Relationship types ---------------------------------------------------------------------------


class RelationshipTypeListView(ObjectListView):
    model = RelationshipType
    filterset_class = RelationshipTypeFilterSet
    template_name = "cmdb/relationshiptype_list.html"
    queryset = RelationshipType.objects.annotate(relationship_count=count_of(Relationship, "type"))
    columns = [
        Column("forward_label", link=True),
        Column("reverse_label"),
        Column("slug"),
        Column("propagates_failure", label="Failure propagates"),
        Column("relationship_count", label="Relationships"),
    ]


class RelationshipTypeDetailView(ObjectDetailView):
    model = RelationshipType
    queryset = RelationshipType.objects.annotate(relationship_count=count_of(Relationship, "type"))
    fields = [
        "slug",
        "forward_label",
        "reverse_label",
        ("Failure propagates", "propagates_failure"),
        "description",
        ("Relationships", "relationship_count"),
    ]


class RelationshipTypeEditView(ObjectEditView):
    model = RelationshipType
    form_class = RelationshipTypeForm

    def save_form(self, form):
        return services.save_relationship_type(form.save(commit=False))


class RelationshipTypeDeleteView(ServiceDeleteView):
    """Refused, saying why, while relationships use the type."""

    model = RelationshipType
    delete_with = "delete_relationship_type"

    def refusal(self, relationship_type):
        if used := relationship_type.relationships.count():
            return f"“{relationship_type}” is used by {_plural(used, 'relationship')} and was not deleted."
        return None


class RelationshipTypeHistoryView(ObjectHistoryView):
    model = RelationshipType


# Tags ---------------------------------------------------------------------------------------


class TagNameColumn(Column):
    """The tag's name, linked to its own page (a tag's absolute URL is the CI list it filters)."""

    def value(self, obj):
        url = reverse("cmdb:tag_detail", args=[obj.pk])
        return Cell(obj.name, format_html('<a href="{}">{}</a>', url, obj.name))


class TagListView(ObjectListView):
    model = Tag
    filterset_class = TagFilterSet
    template_name = "cmdb/tag_list.html"
    queryset = Tag.objects.annotate(ci_count=count_of(Tag.cis.through, "tag"))
    columns = [
        TagNameColumn("name"),
        Column("description"),
        CountColumn("ci_count", label="CIs", filter_param="tag", filter_attr="name"),
    ]


class TagDetailView(ObjectDetailView):
    model = Tag
    queryset = Tag.objects.annotate(ci_count=count_of(Tag.cis.through, "tag"))
    fields = ["name", "description", ("CIs", "ci_count")]

    def get_context_data(self, **kwargs):
        kwargs["ci_list_url"] = ci_list_url(tag=self.object.name)
        return super().get_context_data(**kwargs)


class TagEditView(ObjectEditView):
    model = Tag
    form_class = TagForm

    def save_form(self, form):
        return services.save_tag(form.save(commit=False))

    def get_success_url(self):
        return reverse("cmdb:tag_detail", args=[self.object.pk])


class TagDeleteView(ServiceDeleteView):
    model = Tag
    delete_with = "delete_tag"


class TagHistoryView(ObjectHistoryView):
    model = Tag
