"""The CI pages: list (filters, quick views, CSV), add/edit (typed attribute fields, re-rendered
with htmx on a class switch), detail (attributes, relationships added and removed in place,
related objects), the relationship graph (Cytoscape.js, fed by ``ci_graph``'s JSON), impact
analysis, delete and history.

Viewers see every page but no write controls; writes need the model permissions (agents and
managers: CIs and relationships) and answer 403 otherwise.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Case, IntegerField, Q, Value, When
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views import View, generic

from cmdb import related, services
from cmdb.choices import Criticality, Direction, Status
from cmdb.filters import CIFilterSet
from cmdb.forms.cis import ATTRIBUTE_PREFIX, CIForm, ImpactForm, RelationshipForm
from cmdb.models import CI, CIClass, Relationship
from cmdb.selectors import DEFAULT_DEPTH, impact
from itom.forms import bootstrap_form
from itom.generic import (
    Column,
    ObjectDeleteView,
    ObjectDetailView,
    ObjectEditView,
    ObjectHistoryView,
    ObjectListView,
    PortalPermissionMixin,
    object_actions,
)

SEARCH_LIMIT = 20  # matches the CI search answers with, at most
RELATIONSHIPS_SHOWN = 100  # per direction on the detail page; the graph and the API have the rest
GRAPH_DEFAULT_DEPTH, GRAPH_MAX_DEPTH = 2, 4
GRAPH_MAX_NODES = 300
GRAPH_SCAN_LIMIT = 5000  # relationships read per level of the neighbourhood walk
IMPACT_PAGE_SIZE = 50

# The list's quick views: (label, filter parameters). "All" is the list without filters.
QUICK_VIEWS = [
    ("All", {}),
    ("Production", {"environment": ["production"]}),
    ("Critical", {"criticality": ["1"]}),
    ("Retired", {"status": ["retired"]}),
]
SHOWN_FILTERS = ["q", "ci_class", "status", "environment", "criticality", "owner_team", "tag"]
_NOT_FILTERS = {"sort", "page", "per_page", "export"}


def ci_tabs(ci):
    """The CI's tabs between Details and History (generic/_tabs.html shows ``extra_tabs``)."""
    return [
        {"key": "graph", "label": "Graph", "url": reverse("cmdb:ci_graph_tab", args=[ci.pk])},
        {"key": "impact", "label": "Impact", "url": reverse("cmdb:ci_impact", args=[ci.pk])},
    ]


def class_path(ci):
    """``[(class, list URL of that class and its subclasses)]``, root first."""
    base = reverse("cmdb:ci_list")
    return [(cls, f"{base}?{urlencode({'ci_class': cls.pk})}") for cls in ci.ci_class.path()]


class CITabsMixin:
    def get_context_data(self, **kwargs):
        kwargs.setdefault("extra_tabs", ci_tabs(self.object))
        kwargs.setdefault("class_path", class_path(self.object))
        return super().get_context_data(**kwargs)


# List ------------------------------------------------------------------------------------------
def quick_views(query):
    """The quick views as ``[(label, url, active)]``; a view is active when the list's filters are
    exactly its own."""
    current = {key: sorted(v for v in query.getlist(key) if v) for key in query if key not in _NOT_FILTERS}
    current = {key: values for key, values in current.items() if values}
    base = reverse("cmdb:ci_list")
    return [
        (label, f"{base}?{urlencode(params, doseq=True)}" if params else base, current == params)
        for label, params in QUICK_VIEWS
    ]


class CIListView(ObjectListView):
    model = CI
    queryset = CI.objects.select_related("ci_class", "owner_team").prefetch_related("tags")
    filterset_class = CIFilterSet
    template_name = "cmdb/ci_list.html"
    partial_template_name = "cmdb/_ci_table.html"
    columns = [
        Column("name", link=True),
        Column("ci_class", sort="ci_class__name"),
        Column("status"),
        Column("environment"),
        Column("criticality"),
        Column("owner_team", sort="owner_team__name"),
        Column("fqdn"),
        Column("tags", sortable=False),
    ]

    def get_filterset(self):
        """The page offers the common filters; the API's others (``?fqdn=``, ``?ip=``…) still
        work in a link, carried along as hidden fields."""
        filterset = super().get_filterset()
        for name, field in filterset.form.fields.items():
            if name not in SHOWN_FILTERS:
                field.widget = forms.HiddenInput()
        filterset.form.order_fields(SHOWN_FILTERS)
        return filterset

    def get_context_data(self, **kwargs):
        kwargs.setdefault("quick_views", quick_views(self.request.GET))
        return super().get_context_data(**kwargs)


# Add / edit ------------------------------------------------------------------------------------
class CIEditView(ObjectEditView):
    model = CI
    form_class = CIForm
    template_name = "cmdb/ci_form.html"

    def get_initial(self):
        initial = super().get_initial()
        ci_class = self.request.GET.get("ci_class")
        if ci_class and ci_class.isdigit():
            initial["ci_class"] = ci_class
        return initial

    def save_form(self, form):
        ci = form.save(commit=False)
        return services.save_ci(ci, tags=form.cleaned_data["tags"])


class CIAttributeFieldsView(PortalPermissionMixin, View):
    """htmx: the attribute fields of the class chosen in the CI form (``?ci_class=<id>``), with
    the values already typed into fields of the same name kept."""

    model = CI

    def get(self, request):
        raw = request.GET.get("ci_class", "")
        ci_class = CIClass.objects.filter(pk=raw).first() if raw.isdigit() else None
        kept = {key: value for key, value in request.GET.items() if key.startswith(ATTRIBUTE_PREFIX)}
        form = bootstrap_form(CIForm(initial=kept, ci_class=ci_class))
        return render(request, "cmdb/_ci_attribute_fields.html", {"form": form})


class CIDeleteView(ObjectDeleteView):
    model = CI

    def delete_object(self, obj):
        services.delete_ci(obj)


class CIHistoryView(CITabsMixin, ObjectHistoryView):
    model = CI


# Detail and relationships ----------------------------------------------------------------------
def relationships_context(request, ci, form=None, notice=""):
    """What the Relationships card shows: both directions, read from ``ci``."""
    user = request.user
    outgoing = ci.outgoing.select_related("type", "target__ci_class").order_by("type__forward_label", "target__name")
    incoming = ci.incoming.select_related("type", "source__ci_class").order_by("type__reverse_label", "source__name")
    rows = [(r, r.type.forward_label, r.target) for r in outgoing[:RELATIONSHIPS_SHOWN]]
    rows += [(r, r.type.reverse_label, r.source) for r in incoming[:RELATIONSHIPS_SHOWN]]
    counts = {"outgoing": ci.outgoing.count(), "incoming": ci.incoming.count()}
    hidden = sum(max(0, n - RELATIONSHIPS_SHOWN) for n in counts.values())
    can_add = user.has_perm("cmdb.add_relationship")
    if form is None and can_add:
        form = RelationshipForm(ci=ci)
    return {
        "object": ci,
        "relationship_rows": rows,
        "relationships_hidden": hidden,
        "relationship_count": sum(counts.values()),
        "relationship_form": bootstrap_form(form) if form is not None else None,
        "can_add_relationship": can_add,
        "can_remove_relationship": user.has_perm("cmdb.delete_relationship"),
        "relationship_notice": notice,
    }


class CIDetailView(CITabsMixin, ObjectDetailView):
    model = CI
    queryset = CI.objects.select_related("ci_class", "owner_team").prefetch_related("tags")
    fields = [
        "status",
        "environment",
        "criticality",
        "owner_team",
        "location",
        "fqdn",
        *CI.ASSET_FIELDS,
        "external_id",
        "description",
    ]

    def get_context_data(self, **kwargs):
        ci = self.object
        values = ci.attributes or {}
        definitions = ci.ci_class.effective_attributes()
        known = {d.name for d in definitions}
        attribute_rows = [(d.display_label, values.get(d.name), d.type) for d in definitions]
        attribute_rows += [(name, value, "") for name, value in values.items() if name not in known]
        panels = related.related_to(ci, self.request.user)
        kwargs.update(
            attribute_rows=attribute_rows,
            related_panels=panels,
            related_any=any(count for _, count, _, _ in panels),
            **relationships_context(self.request, ci),
        )
        return super().get_context_data(**kwargs)


def _relationships_response(request, ci, form=None, notice=""):
    """htmx: the re-rendered Relationships card (errors on its form, or a notice of what was
    done); otherwise a redirect to the CI's page, with the errors or the notice as messages."""
    if request.headers.get("HX-Request"):
        return render(request, "cmdb/_ci_relationships.html", relationships_context(request, ci, form, notice))
    if form is not None and form.errors:
        for error in [e for errors in form.errors.values() for e in errors]:
            messages.error(request, error)
    elif notice:
        messages.success(request, notice)
    return redirect(ci.get_absolute_url())


class RelationshipAddView(PortalPermissionMixin, View):
    """POST: relate the CI to another one (self-links and duplicates come back as form errors)."""

    model = Relationship
    permission_action = "add"

    def post(self, request, pk):
        ci = get_object_or_404(CI, pk=pk)
        form = RelationshipForm(request.POST, ci=ci)
        if form.is_valid():
            data = form.cleaned_data
            try:
                with transaction.atomic():
                    relationship = services.relate(
                        data["source"], data["relationship_type"], data["target_ci"], data["description"]
                    )
            except ValidationError as exc:
                for field, field_errors in exc.message_dict.items():
                    target = {"target": "target_search", "type": "type", "description": "description"}.get(field)
                    form.add_error(target, field_errors)
            else:
                return _relationships_response(request, ci, notice=f"Related: {relationship}.")
        return _relationships_response(request, ci, form)


class RelationshipRemoveView(PortalPermissionMixin, View):
    model = Relationship
    permission_action = "delete"

    def post(self, request, pk, relationship_pk):
        ci = get_object_or_404(CI, pk=pk)
        relationship = get_object_or_404(
            Relationship.objects.select_related("source", "target", "type").filter(Q(source=ci) | Q(target=ci)),
            pk=relationship_pk,
        )
        text = str(relationship)
        services.unrelate(relationship)
        return _relationships_response(request, ci, notice=f"Removed: {text}.")


class CISearchView(PortalPermissionMixin, View):
    """Autocomplete for picking a CI: ``?q=`` (or the search box's ``target_search``) matched
    against names and FQDNs, exact and prefix matches first, at most ``SEARCH_LIMIT``; JSON,
    or the pick list's HTML for htmx. ``?exclude=<id>`` leaves a CI out (the page's own)."""

    model = CI

    def get(self, request):
        text = (request.GET.get("q") or request.GET.get("target_search") or "").strip()
        matches = []
        if text:
            queryset = CI.objects.filter(Q(name__icontains=text) | Q(fqdn__icontains=text.lower()))
            exclude = request.GET.get("exclude", "")
            if exclude.isdigit():
                queryset = queryset.exclude(pk=exclude)
            matches = list(
                queryset.select_related("ci_class")
                .annotate(
                    rank=Case(
                        When(name__iexact=text, then=Value(0)),
                        When(name__istartswith=text, then=Value(1)),
                        default=Value(2),
                        output_field=IntegerField(),
                    )
                )
                .order_by("rank", "name", "pk")[:SEARCH_LIMIT]
            )
        if request.headers.get("HX-Request"):
            return render(request, "cmdb/_ci_search_results.html", {"matches": matches, "text": text})
        return JsonResponse(
            {
                "results": [
                    {
                        "id": ci.pk,
                        "name": ci.name,
                        "ci_class": ci.ci_class.name,
                        "environment": ci.environment,
                        "url": ci.get_absolute_url(),
                    }
                    for ci in matches
                ]
            }
        )


# Graph -----------------------------------------------------------------------------------------
def neighbourhood(ci, depth):
    """The CIs within ``depth`` links of ``ci`` (either direction, every relationship type), at
    most ``GRAPH_MAX_NODES``, with the relationships among them. One query per level, plus one
    for the edges and one for the nodes. Returns ``(nodes by id, edges, capped)``."""
    seen, frontier, capped = {ci.pk}, {ci.pk}, False
    for _ in range(depth):
        if not frontier:
            break
        pairs = list(
            Relationship.objects.filter(Q(source_id__in=frontier) | Q(target_id__in=frontier))
            .order_by("pk")
            .values_list("source_id", "target_id")[:GRAPH_SCAN_LIMIT]
        )
        capped |= len(pairs) == GRAPH_SCAN_LIMIT
        reached = set()
        for pair in pairs:
            for pk in pair:
                if pk in seen:
                    continue
                if len(seen) >= GRAPH_MAX_NODES:
                    capped = True
                    continue
                seen.add(pk)
                reached.add(pk)
        frontier = reached
    edges = Relationship.objects.filter(source_id__in=seen, target_id__in=seen).select_related("type")
    return _graph_nodes(seen), list(edges), capped


def _graph_nodes(ids):
    return CI.objects.filter(pk__in=ids).select_related("ci_class").in_bulk()


def _node(ci, **extra):
    return {
        "id": str(ci.pk),
        "label": ci.name,
        "ci_class": ci.ci_class.name,
        "status": ci.status,
        "business_service": ci.ci_class.is_business_service,
        "url": ci.get_absolute_url(),
        **extra,
    }


def _edge(relationship):
    return {
        "id": f"r{relationship.pk}",
        "source": str(relationship.source_id),
        "target": str(relationship.target_id),
        "label": relationship.type.forward_label,
    }


def _int_param(query, name, default, low, high):
    raw = query.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number from {low} to {high}.") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}.")
    return value


class CIGraphDataView(PortalPermissionMixin, generic.detail.SingleObjectMixin, View):
    """``graph.json``: the CI's neighbourhood (``?depth=N``, default 2, at most 4), or with
    ``?direction=downstream|upstream`` its impact (``?depth`` up to the impact limit): nodes
    (id, label, class, status, business service, url) and edges (source, target, label)."""

    model = CI

    def get(self, request, pk):
        ci = self.get_object()
        query = request.GET
        direction = query.get("direction", "")
        try:
            if direction:
                form = ImpactForm.from_query(query)
                if not form.is_valid():
                    raise ValueError(" ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
                return JsonResponse(self.impact_graph(ci, form.cleaned_data["direction"], form.cleaned_data["depth"]))
            depth = _int_param(query, "depth", GRAPH_DEFAULT_DEPTH, 1, GRAPH_MAX_DEPTH)
        except ValueError as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        nodes, edges, capped = neighbourhood(ci, depth)
        return JsonResponse(
            {
                "start": str(ci.pk),
                "depth": depth,
                "capped": capped,
                "max_nodes": GRAPH_MAX_NODES,
                "nodes": [_node(n, start=n.pk == ci.pk) for n in sorted(nodes.values(), key=lambda n: n.name)],
                "edges": [_edge(r) for r in edges],
            }
        )

    @staticmethod
    def impact_graph(ci, direction, depth):
        """The impact result as a graph: the start, the affected CIs (nearest first, capped) and
        the failure-propagating relationships among them."""
        result = impact(ci, direction, depth)
        shown = result.results[: GRAPH_MAX_NODES - 1]
        depth_of = {r.id: r.depth for r in shown} | {ci.pk: 0}
        nodes = _graph_nodes(depth_of)
        edges = Relationship.objects.filter(
            source_id__in=depth_of, target_id__in=depth_of, type__propagates_failure=True
        ).select_related("type")
        return {
            "start": str(ci.pk),
            "direction": direction,
            "depth": result.depth_limit,
            "capped": len(result.results) > len(shown),
            "max_nodes": GRAPH_MAX_NODES,
            "nodes": [
                _node(n, start=n.pk == ci.pk, depth=depth_of[n.pk])
                for n in sorted(nodes.values(), key=lambda n: (depth_of[n.pk], n.name))
            ],
            "edges": [_edge(r) for r in edges],
        }


class CIGraphView(CITabsMixin, PortalPermissionMixin, generic.DetailView):
    """The Graph tab: the neighbourhood drawn by Cytoscape.js (itom/static/itom/ci-graph.js)."""

    model = CI
    queryset = CI.objects.select_related("ci_class")
    template_name = "cmdb/ci_graph.html"

    def get_context_data(self, **kwargs):
        try:
            depth = _int_param(self.request.GET, "depth", GRAPH_DEFAULT_DEPTH, 1, GRAPH_MAX_DEPTH)
        except ValueError as exc:
            messages.warning(self.request, f"{exc} Showing depth {GRAPH_DEFAULT_DEPTH}.")
            depth = GRAPH_DEFAULT_DEPTH
        kwargs.update(
            opts=CI._meta,
            active_tab="graph",
            depth=depth,
            depths=range(1, GRAPH_MAX_DEPTH + 1),
            max_nodes=GRAPH_MAX_NODES,
            graph_url=f"{reverse('cmdb:ci_graph', args=[self.object.pk])}?depth={depth}",
            **object_actions(self.request.user, CI._meta),
        )
        return super().get_context_data(**kwargs)


# Impact ----------------------------------------------------------------------------------------
class CIImpactView(CITabsMixin, PortalPermissionMixin, generic.DetailView):
    """The Impact tab: ``?direction=downstream|upstream&depth=N``. Affected business services on
    top, every affected CI in a paged table with its depth and path, and the impact graph."""

    model = CI
    queryset = CI.objects.select_related("ci_class")
    template_name = "cmdb/ci_impact.html"
    partial_template_name = "cmdb/_ci_impact_table.html"

    def get(self, request, *args, **kwargs):
        self.object = self.get_object()
        context = self.get_context_data(object=self.object)
        template = self.partial_template_name if request.headers.get("HX-Request") else self.template_name
        return render(request, template, context)

    def get_context_data(self, **kwargs):
        ci = self.object
        form = ImpactForm.from_query(self.request.GET)
        if form.is_valid():
            direction, depth = form.cleaned_data["direction"], form.cleaned_data["depth"]
        else:
            direction, depth = Direction.DOWNSTREAM, DEFAULT_DEPTH
            messages.warning(
                self.request,
                f"Those impact settings aren't valid (see the form); showing {Direction(direction).label.lower()} "
                f"to depth {depth} instead.",
            )
        result = impact(ci, direction, depth)
        statuses, criticalities = dict(Status.choices), dict(Criticality.choices)
        for row in result.results:
            row.status_label = statuses.get(row.status, row.status)
            row.criticality_label = criticalities.get(row.criticality, row.criticality)
            row.path_text = " → ".join([row.path[0].name] + [f"{hop.via} → {hop.name}" for hop in row.path[1:]])
            row.url = reverse("cmdb:ci_detail", args=[row.id])
        page = Paginator(result.results, IMPACT_PAGE_SIZE).get_page(self.request.GET.get("page"))
        graph_query = urlencode({"direction": direction, "depth": depth})
        kwargs.update(
            opts=CI._meta,
            active_tab="impact",
            form=bootstrap_form(form),
            impact=result,
            direction=direction,
            direction_label=Direction(direction).label,
            business_services=result.business_services,
            page_obj=page,
            graph_url=f"{reverse('cmdb:ci_graph', args=[ci.pk])}?{graph_query}",
            max_nodes=GRAPH_MAX_NODES,
            **object_actions(self.request.user, CI._meta),
        )
        return super().get_context_data(**kwargs)
