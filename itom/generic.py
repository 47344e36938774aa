"""Generic UI views every app reuses: list (filters, search, sort, pagination, CSV export),
detail, create/edit, delete and the History tab. An app's view is a few attributes:

    class TeamListView(ObjectListView):
        model = Team
        filterset_class = TeamFilterSet
        columns = [Column("name", link=True), Column("email"), Column("lead")]

Access: the user must be signed in (else redirected to the login page) and hold the model
permission for the view's ``permission_action`` (else 403).
"""

import csv
from dataclasses import dataclass, replace

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import ProtectedError, RestrictedError
from django.http import StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.utils.text import capfirst
from django.views import generic

from itom.audit import readable_diff
from itom.forms import bootstrap_form
from itom.models import ObjectChange


class _Echo:
    def write(self, value):
        return value


@dataclass
class Column:
    """A list column: ``accessor`` is a dotted attribute path (``lead.username``) or a field name.
    ``sort`` is the ordering key (defaults to the accessor when it is a model field)."""

    accessor: str
    label: str = ""
    link: bool = False
    sort: str | None = None
    sortable: bool = True

    def with_defaults(self, model):
        """Fill in the label (the field's verbose name) and the sort key from the model."""
        if not self.label:
            try:
                self.label = capfirst(model._meta.get_field(self.accessor.split(".")[0]).verbose_name)
            except FieldDoesNotExist:
                self.label = capfirst(self.accessor.replace("_", " "))
        if self.sort is None and self.sortable:
            self.sort = self.accessor.replace(".", "__")
        return self

    def value(self, obj):
        value = obj
        for part in self.accessor.split("."):
            value = getattr(value, part, None)
            if value is None:
                return ""
            if callable(value) and not hasattr(value, "all"):
                value = value()
        if hasattr(value, "all"):  # a related manager: list the objects
            return ", ".join(str(item) for item in value.all())
        display = getattr(obj, f"get_{self.accessor}_display", None)
        if display:
            return display()
        if isinstance(value, bool):
            return "Yes" if value else "No"
        return value


class PortalPermissionMixin(LoginRequiredMixin, PermissionRequiredMixin):
    permission_action = "view"
    raise_exception = True

    def get_permission_required(self):
        opts = self.model._meta
        return [f"{opts.app_label}.{self.permission_action}_{opts.model_name}"]

    def handle_no_permission(self):
        if not self.request.user.is_authenticated:
            return redirect(f"{reverse('login')}?next={self.request.get_full_path()}")
        return super().handle_no_permission()


class ObjectListView(PortalPermissionMixin, generic.TemplateView):
    model = None
    queryset = None
    filterset_class = None
    columns = ()
    paginate_by = 50
    max_page_size = 500
    template_name = "generic/object_list.html"
    partial_template_name = "generic/_object_table.html"

    def get_base_queryset(self):
        return self.queryset.all() if self.queryset is not None else self.model._default_manager.all()

    def get_columns(self):
        return [replace(column).with_defaults(self.model) for column in self.columns]

    def get_filterset(self):
        if self.filterset_class is None:
            raise ImproperlyConfigured(f"{type(self).__name__} needs a filterset_class")
        filterset = self.filterset_class(
            self.request.GET or None, queryset=self.get_base_queryset(), request=self.request
        )
        bootstrap_form(filterset.form)
        return filterset

    def get_sort(self, columns):
        requested = self.request.GET.get("sort", "")
        allowed = {c.sort for c in columns if c.sortable and c.sort}
        if requested.lstrip("-") in allowed:
            return requested
        return None

    def get(self, request, *args, **kwargs):
        columns = self.get_columns()
        filterset = self.get_filterset()
        queryset = filterset.qs
        sort = self.get_sort(columns)
        if sort:
            queryset = queryset.order_by(sort, "pk")
        elif not queryset.ordered:
            queryset = queryset.order_by("pk")
        if request.GET.get("export") == "csv":
            return self.export_csv(queryset, columns)
        try:
            per_page = min(max(int(request.GET.get("per_page", self.paginate_by)), 1), self.max_page_size)
        except ValueError:
            per_page = self.paginate_by
        page = Paginator(queryset, per_page).get_page(request.GET.get("page"))
        context = self.get_context_data(
            columns=columns,
            filterset=filterset,
            page_obj=page,
            object_list=page.object_list,
            sort=sort or "",
            rows=[(obj, [(c, c.value(obj)) for c in columns]) for obj in page.object_list],
        )
        partial = bool(request.headers.get("HX-Request"))
        context["htmx_partial"] = partial
        template = self.partial_template_name if partial else self.template_name
        return self.response_class(request=request, template=[template], context=context, using=self.template_engine)

    def get_context_data(self, **kwargs):
        opts = self.model._meta
        kwargs.setdefault("opts", opts)
        kwargs.setdefault("title", capfirst(opts.verbose_name_plural))
        kwargs.setdefault("can_add", self.request.user.has_perm(f"{opts.app_label}.add_{opts.model_name}"))
        kwargs.setdefault("add_url", self.get_add_url())
        return super().get_context_data(**kwargs)

    def get_add_url(self):
        opts = self.model._meta
        try:
            return reverse(f"{opts.app_label}:{opts.model_name}_add")
        except NoReverseMatch:
            return None

    def export_csv(self, queryset, columns):
        """Stream every matching row (not only the page) as CSV, a chunk at a time."""
        writer = csv.writer(_Echo())

        def rows():
            yield writer.writerow([c.label for c in columns])
            for obj in queryset.iterator(chunk_size=2000) if not self._has_prefetch(queryset) else queryset:
                yield writer.writerow([_csv_safe(c.value(obj)) for c in columns])

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.model._meta.model_name}s.csv"'
        return response

    @staticmethod
    def _has_prefetch(queryset):
        return bool(queryset._prefetch_related_lookups)


def _csv_safe(value):
    """Neutralise spreadsheet formulas (CSV injection): prefix a leading = + - @ with a quote."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def object_actions(user, opts):
    """What the detail page's header offers this user (the tabs share it)."""
    return {
        "can_change": user.has_perm(f"{opts.app_label}.change_{opts.model_name}"),
        "can_delete": user.has_perm(f"{opts.app_label}.delete_{opts.model_name}"),
    }


class ObjectDetailView(PortalPermissionMixin, generic.DetailView):
    """Shows ``fields`` (``[(label, accessor)]`` or accessors) under the Details tab."""

    template_name = "generic/object_detail.html"
    fields = ()

    def get_template_names(self):
        opts = self.model._meta
        return [f"{opts.app_label}/{opts.model_name}_detail.html", self.template_name]

    def get_context_data(self, **kwargs):
        obj = self.object
        opts = self.model._meta
        rows = []
        for entry in self.fields:
            label, accessor = entry if isinstance(entry, tuple) else (None, entry)
            column = Column(accessor, label or "", sortable=False).with_defaults(self.model)
            rows.append((column.label, column.value(obj)))
        kwargs.update(opts=opts, detail_rows=rows, active_tab="details", **object_actions(self.request.user, opts))
        return super().get_context_data(**kwargs)


class ObjectHistoryView(PortalPermissionMixin, generic.DetailView):
    """The History tab: this object's audit trail, newest first, with what changed."""

    template_name = "generic/object_history.html"
    paginate_by = 25

    def get_context_data(self, **kwargs):
        changes = ObjectChange.objects.filter(
            content_type__app_label=self.model._meta.app_label,
            content_type__model=self.model._meta.model_name,
            object_id=str(self.object.pk),
        ).select_related("user")
        page = Paginator(changes, self.paginate_by).get_page(self.request.GET.get("page"))
        entries = list(page.object_list)
        kwargs.update(
            opts=self.model._meta,
            page_obj=page,
            changes=entries,
            entries=list(zip(entries, readable_diff(self.model, entries), strict=True)),
            active_tab="history",
            **object_actions(self.request.user, self.model._meta),
        )
        return super().get_context_data(**kwargs)


class ObjectEditView(PortalPermissionMixin, generic.UpdateView):
    """Create (no ``pk`` in the URL) or edit an object with ``form_class``. Override
    ``save_form`` to route the write through the app's service."""

    template_name = "generic/object_form.html"

    @property
    def permission_action(self):
        return "change" if "pk" in self.kwargs else "add"

    def get_object(self, queryset=None):
        return super().get_object(queryset) if "pk" in self.kwargs else None

    def save_form(self, form):
        return form.save()

    def form_valid(self, form):
        try:
            with transaction.atomic():
                self.object = self.save_form(form)
        except ValidationError as exc:
            # A service's error names a field the form may not show: then it goes on top.
            errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
            for field, field_messages in errors.items():
                form.add_error(field if field in form.fields else None, field_messages)
            return self.form_invalid(form)
        messages.success(self.request, f"Saved {self.model._meta.verbose_name} “{self.object}”.")
        return redirect(self.get_success_url())

    def get_form(self, form_class=None):
        return bootstrap_form(super().get_form(form_class))

    def get_context_data(self, **kwargs):
        kwargs.setdefault("opts", self.model._meta)
        return super().get_context_data(**kwargs)


class ObjectDeleteView(PortalPermissionMixin, generic.DeleteView):
    permission_action = "delete"
    template_name = "generic/object_confirm_delete.html"

    def delete_object(self, obj):
        """Override to route the deletion through the app's service."""
        obj.delete()

    def form_valid(self, form):
        obj = self.object
        try:
            with transaction.atomic():
                self.delete_object(obj)
        except (ProtectedError, RestrictedError):
            messages.error(self.request, f"“{obj}” is still referred to by other objects and was not deleted.")
            return redirect(obj.get_absolute_url())
        messages.success(self.request, f"Deleted {self.model._meta.verbose_name} “{obj}”.")
        return redirect(self.get_success_url())

    def get_success_url(self):
        opts = self.model._meta
        return reverse(f"{opts.app_label}:{opts.model_name}_list")

    def get_context_data(self, **kwargs):
        kwargs.setdefault("opts", self.model._meta)
        return super().get_context_data(**kwargs)
