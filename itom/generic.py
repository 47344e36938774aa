"""Generic UI views every app reuses: list (filters, search, sort, pagination, CSV export),
detail, create/edit, delete, the History tab, and the POST actions of a detail page (and the
state moves among them). An app's view is a few attributes:

    class TeamListView(ObjectListView):
        model = Team
        filterset_class = TeamFilterSet
        columns = [Column("name", link=True), Column("email"), Column("lead")]

Access: the user must be signed in (else redirected to the login page) and hold the model
permission for the view's ``permission_action`` (else 403).
"""

import csv
from dataclasses import dataclass, replace

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import ProtectedError, RestrictedError
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.text import capfirst
from django.views import View, generic

from itom.api.exceptions import Conflict, TransitionNotAllowed
from itom.audit import readable_diff
from itom.forms import bootstrap_form, errors_to_form
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


def show_only(form, shown):
    """Show only the ``shown`` filters of a list's filter form, in that order; the others still
    work from a link, carried along as hidden fields (a range as its two hidden inputs)."""
    for name, field in form.fields.items():
        if name in shown:
            continue
        if isinstance(field.widget, forms.MultiWidget):  # ranges: ?created_after=&created_before=
            field.widget.widgets = [forms.HiddenInput() for _ in field.widget.widgets]
            field.widget.template_name = "django/forms/widgets/multiwidget.html"  # no "–" between
        else:
            field.widget = field.hidden_widget()
    form.order_fields(shown)


class ObjectListView(PortalPermissionMixin, generic.TemplateView):
    model = None
    queryset = None
    filterset_class = None
    shown_filters = None  # the filters the page shows, in order (None: all of them); see show_only
    default_filters = {}  # a filter's value when the URL names none (a list's default tab)
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
            self.get_filter_data(), queryset=self.get_base_queryset(), request=self.request
        )
        if self.shown_filters is not None:
            show_only(filterset.form, self.shown_filters)
        bootstrap_form(filterset.form)
        return filterset

    def get_filter_data(self):
        """The filters' input: the URL's query, and ``default_filters`` where it names none."""
        if not self.default_filters:
            return self.request.GET or None
        data = self.request.GET.copy()
        for name, value in self.default_filters.items():
            if name not in data:
                data[name] = value
        return data

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


class QueueListView(ObjectListView):
    """A list under queue tabs (``generic/_queue_tabs.html``): each tab is a value of the
    filterset's ``queue`` filter (``queue_tabs``: ``[(value, label)]``), ``default_queue`` the one
    shown when the URL names none."""

    queue_tabs = ()
    default_queue = ""

    @property
    def default_filters(self):
        return {"queue": self.default_queue}

    def current_queue(self):
        return self.request.GET.get("queue", self.default_queue)

    def get_context_data(self, **kwargs):
        current = self.current_queue()
        kwargs.setdefault("queues", [(key, label, key == current) for key, label in self.queue_tabs])
        kwargs.setdefault("current_queue", current)
        return super().get_context_data(**kwargs)


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
    ``save_form`` to route the write through the app's service; what it raises of ``refusals``
    comes back on the form (``refused``), and ``saved`` answers a save."""

    template_name = "generic/object_form.html"
    locked_level = messages.WARNING  # the level of the message ``locked_reason`` shows
    refusals = (ValidationError,)  # what ``save_form`` may raise to show the form again, nothing written

    @property
    def permission_action(self):
        return "change" if "pk" in self.kwargs else "add"

    def get_object(self, queryset=None):
        return super().get_object(queryset) if "pk" in self.kwargs else None

    def locked_reason(self, obj):
        """Why ``obj`` can no longer be edited (e.g. it is closed), or ``None``: then its page
        comes instead of the form, with the reason."""
        return None

    def get(self, request, *args, **kwargs):
        self.object = self.get_object()
        reason = self.locked_reason(self.object) if self.object is not None else None
        if reason:
            messages.add_message(request, self.locked_level, reason)
            return redirect(self.object.get_absolute_url())
        return self.render_to_response(self.get_context_data())

    def save_form(self, form):
        return form.save()

    def form_valid(self, form):
        try:
            with transaction.atomic():
                self.object = self.save_form(form)
        except self.refusals as exc:
            self.refused(form, exc)
            return self.form_invalid(form)
        return self.saved()

    def refused(self, form, exc):
        """Put the refusal on the form: a ``ValidationError`` on the fields it names, another
        reason on top."""
        if isinstance(exc, ValidationError):
            errors_to_form(form, exc)
        else:
            form.add_error(None, refusal_reason(exc))

    def saved(self):
        """The answer once ``self.object`` is saved: a notice, then its page."""
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


def timeline_page(request, entries, summarise, per_page=50):
    """The page (``?page=``) of an object's timeline ``entries`` that generic/_timeline.html
    shows, newest first, each entry with its ``summary`` in words (``summarise(entry)``)."""
    page = Paginator(entries.order_by("-time", "-id"), per_page).get_page(request.GET.get("page"))
    for entry in page:
        entry.summary = summarise(entry)
    return page


def refusal_reason(exc):
    """A service's refusal in words: a ``ValidationError``'s messages, a ``PermissionDenied``'s
    reason, an API exception's detail."""
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    if isinstance(exc, PermissionDenied):
        return str(exc) or "You may not do that."
    return str(exc.detail)


class ObjectActionView(PortalPermissionMixin, View):
    """A POST from an object's page that changes it through a service: ``act(obj, form, **kwargs)``
    (``kwargs``: the URL's arguments besides ``pk``) does it and returns the notice to show, then
    back to the page (``anchor`` appended). A view with a ``form_class`` validates it first (its ids
    ``auto_id``); a bad form or a service's refusal (``refusals``, see ``refused``) brings the
    detail page (``detail_view``) back with the form bound and open (``overrides``), nothing
    written."""

    permission_action = "change"
    detail_view = None  # the detail page's view class, rendered again with ``overrides``
    form_class = None
    form_key = ""  # the detail page's context name for the form
    auto_id = "id_%s"
    anchor = ""
    invalid_status = 400  # the status of the page shown again for a form that does not validate
    refusals = (ValidationError, PermissionDenied, Conflict, TransitionNotAllowed)

    def get_form(self, obj):
        if self.form_class is None:
            return None
        return self.form_class(self.request.POST, self.request.FILES, auto_id=self.auto_id)

    def post(self, request, pk, **kwargs):
        obj = get_object_or_404(self.model, pk=pk)
        form = self.get_form(obj)
        if form is not None and not form.is_valid():
            return self.render_detail(obj, status=self.invalid_status, **self.overrides(form))
        try:
            with transaction.atomic():
                notice = self.act(obj, form, **kwargs)
        except self.refusals as exc:
            return self.refused(obj, form, exc)
        if notice:
            messages.success(request, notice)
        return redirect(self.get_success_url(obj))

    def act(self, obj, form, **kwargs):
        """Call the service with the valid form; return the notice to show (or ""). Each action
        view implements it (abstract)."""
        raise NotImplementedError

    def get_success_url(self, obj):
        return obj.get_absolute_url() + self.anchor

    def overrides(self, form):
        """What the detail page's context gets for a bound form: the form, open."""
        return {self.form_key: bootstrap_form(form), "open_action": self.form_key}

    def refused(self, obj, form, exc):
        """The service said no. Without a form: the reason on top of the page. With one: a
        ``ValidationError`` on the fields it names (``form.ERROR_ALIASES`` maps the service's
        names to the form's), another reason on top of the form, the page again with
        ``refusal_status``."""
        if form is None:
            messages.error(self.request, refusal_reason(exc))
            return redirect(obj.get_absolute_url() + self.anchor)
        if isinstance(exc, ValidationError):
            errors_to_form(form, exc, getattr(form, "ERROR_ALIASES", None))
        else:
            form.add_error(None, refusal_reason(exc))
        return self.render_detail(obj, status=self.refusal_status(exc), **self.overrides(form))

    def refusal_status(self, exc):
        """400 for bad input, 403 for someone who may not, 409 for what the object's state forbids."""
        if isinstance(exc, PermissionDenied):
            return 403
        if isinstance(exc, (Conflict, TransitionNotAllowed)):
            return 409
        return 400

    def render_detail(self, obj, status=200, **overrides):
        """The detail page again, with a bound form and its errors (``overrides``), and ``status``."""
        view = self.detail_view()
        view.setup(self.request, pk=obj.pk)
        view.object = view.get_object()
        context = view.get_context_data(object=view.object, **overrides)
        return render(self.request, view.template_name, context, status=status)


class ObjectTransitionView(ObjectActionView):
    """Move the object to the state POSTed as ``state``. Each move the page offers has its own form
    (the detail page's ``action_forms[state]``, ids ``move_<state>_…``), opened again when refused."""

    states = ()  # the state values a move may name (``SomeState.values``)

    def get_form(self, obj):
        state = self.request.POST.get("state", "")
        self.state = state if state in self.states else ""
        return self.form_class(self.request.POST, auto_id=f"move_{self.state or 'x'}_%s")

    def overrides(self, form):
        if not self.state:
            # Not a state the page offers: say so on top of the page.
            messages.error(self.request, " ".join(e for errors in form.errors.values() for e in errors))
            return {}
        return {"action_forms": {self.state: form}, "open_action": f"move-{self.state}"}
