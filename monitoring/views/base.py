"""What the monitoring pages share: the entry of the area's sub-navigation a page is under, the
lists' filter widgets and add button, and the CI a new object's form starts with (``?ci=<id>``)."""

from itom.generic import ObjectListView

ANY_ENABLED_DISABLED = [("unknown", "Any"), ("true", "Enabled"), ("false", "Disabled")]


class MonitoringPage:
    """A page of the monitoring area: ``subnav`` names its entry in ``monitoring/_subnav.html``;
    it renders its own ``template_name`` (not the generic views' ``<app>/<model>_detail.html``)."""

    subnav = ""

    def get_template_names(self):
        return [self.template_name]

    def get_context_data(self, **kwargs):
        kwargs.setdefault("subnav", self.subnav)
        return super().get_context_data(**kwargs)


class MonitoringListView(MonitoringPage, ObjectListView):
    """A monitoring list: ``add_label`` on its add button; ``boolean_choices``: a yes/no filter's
    choices (``{name: [(value, label)]}``); ``tall_filters``: the multiple choices shown 3 rows high."""

    add_label = ""
    boolean_choices = {}
    tall_filters = ()

    def get_filterset(self):
        filterset = super().get_filterset()
        fields = filterset.form.fields
        for name in self.tall_filters:
            fields[name].widget.attrs["size"] = 3
        for name, choices in self.boolean_choices.items():
            fields[name].widget.choices = choices
        return filterset

    def get_context_data(self, **kwargs):
        if self.add_label:
            kwargs.setdefault("add_label", self.add_label)
        return super().get_context_data(**kwargs)


class CIFromQueryMixin:
    """A new object's form starts with the CI ``?ci=<id>`` names (``ci_initial``: in which field)."""

    def ci_initial(self, ci_id):
        return {"ci": ci_id}

    def get_initial(self):
        initial = super().get_initial()
        ci = self.request.GET.get("ci", "")
        if self.object is None and ci.isdigit():
            initial.update(self.ci_initial(int(ci)))
        return initial
