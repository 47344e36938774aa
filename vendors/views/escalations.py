"""Escalating an incident to a vendor (the incident page's "Escalate to vendor": pick one of the
contracts that cover its CIs, the vendor's ticket, a note) and an escalation's page (its vendor
clocks, and the vendor's response, resolution or a withdrawal).

Writes go through ``vendors.services.escalations`` (agents: ``vendors.add_vendorescalation`` /
``vendors.change_vendorescalation``)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import generic

from incidents.choices import OPEN_STATES
from incidents.models import Incident
from incidents.views.incidents import human_duration
from itom.api.exceptions import Conflict
from itom.forms import bootstrap_form, errors_to_form
from itom.generic import ObjectActionView, ObjectDetailView, PortalPermissionMixin
from vendors.choices import EscalationState
from vendors.forms import EscalationForm, EscalationNoteForm
from vendors.models import VendorEscalation

LIVE_STATES = (EscalationState.OPEN, EscalationState.RESPONDED)
# The escalation page's actions: the state they need, their label, the notice once done.
ACTIONS = {
    "responded": ((EscalationState.OPEN,), "Vendor responded", "Recorded the vendor's response"),
    "resolved": (LIVE_STATES, "Vendor resolved", "Recorded the vendor's resolution"),
    "withdraw": (LIVE_STATES, "Withdraw", "Withdrew the escalation"),
}


def escalation_url(escalation):
    return reverse("vendors:escalation_detail", args=[escalation.pk])


class EscalationCreateView(PortalPermissionMixin, generic.TemplateView):
    """``/vendors/escalations/new/?incident=<id>``."""

    model = VendorEscalation
    permission_action = "add"
    template_name = "vendors/escalation_form.html"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated or not self.has_permission():
            return self.handle_no_permission()
        source = request.POST if request.method == "POST" else request.GET
        ref = source.get("incident", "")
        self.incident = Incident.objects.filter(pk=ref if ref.isdigit() else None).first()
        if self.incident is None:
            raise Http404("No such incident.")
        if self.incident.state not in OPEN_STATES:
            state = self.incident.get_state_display().lower()
            messages.error(request, f"{self.incident.number} is {state}: it can't be escalated to a vendor.")
            return redirect(self.incident.get_absolute_url())
        return super().dispatch(request, *args, **kwargs)

    def eligible(self):
        from vendors.services.escalations import eligible_contracts

        return list(eligible_contracts(self.incident))

    def get_context_data(self, **kwargs):
        contracts = self.eligible()
        form = kwargs.pop("form", None) or EscalationForm(contracts=contracts)
        kwargs.update(
            title=f"Escalate {self.incident.number} to a vendor",
            incident=self.incident,
            form=bootstrap_form(form),
            contracts=contracts,
            escalations=list(
                self.incident.vendor_escalations.select_related("vendor", "contract").order_by("-escalated_at")
            ),
        )
        return super().get_context_data(**kwargs)

    def post(self, request, *args, **kwargs):
        from vendors.services.escalations import escalate

        contracts = self.eligible()
        form = EscalationForm(request.POST, contracts=contracts)
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                with transaction.atomic():
                    escalation = escalate(
                        self.incident,
                        user=request.user,
                        contract=data["contract"],
                        vendor_ticket=data["vendor_ticket"],
                        note=data["note"],
                    )
            except ValidationError as exc:
                errors_to_form(form, exc, form.ERROR_ALIASES)
            except Conflict as exc:
                form.add_error(None, str(exc.detail))
                status = 409
            except PermissionDenied as exc:
                form.add_error(None, str(exc) or "You may not escalate this incident.")
                status = 403
            else:
                messages.success(request, f"Escalated {self.incident.number} to {escalation.vendor}.")
                return redirect(self.incident.get_absolute_url())
        context = self.get_context_data(form=form)
        return render(request, self.template_name, context, status=status)


class EscalationDetailView(ObjectDetailView):
    model = VendorEscalation
    template_name = "vendors/escalation_detail.html"

    def get_queryset(self):
        return VendorEscalation.objects.select_related("incident", "contract", "vendor", "escalated_by")

    def get_template_names(self):
        return [self.template_name]

    def get_context_data(self, **kwargs):
        escalation, user = self.object, self.request.user
        clocks = sorted(escalation.sla_clocks.select_related("calendar"), key=lambda c: c.metric != "response")
        for clock in clocks:
            clock.target_text = human_duration(clock.target_seconds)
        forms = kwargs.pop("action_forms", {})
        actions = []
        if user.has_perm("vendors.change_vendorescalation"):
            for key, (states, label, _) in ACTIONS.items():
                if escalation.state in states:
                    form = forms.get(key) or EscalationNoteForm(auto_id=f"{key}_%s")
                    actions.append({"key": key, "label": label, "form": bootstrap_form(form)})
        kwargs.update(clocks=clocks, actions=actions, live=escalation.state in LIVE_STATES)
        return super().get_context_data(**kwargs)


class EscalationActionView(ObjectActionView):
    """POST ``/vendors/escalations/<id>/<responded|resolved|withdraw>/``."""

    model = VendorEscalation
    detail_view = EscalationDetailView
    form_class = EscalationNoteForm

    def get_form(self, obj):
        self.action = self.kwargs["action"]
        if self.action not in ACTIONS:
            raise Http404("No such action.")
        return self.form_class(self.request.POST, auto_id=f"{self.action}_%s")

    def overrides(self, form):
        return {"action_forms": {self.action: form}, "open_action": self.action}

    def act(self, escalation, form, action):
        from vendors.services import escalations as services

        data, user = form.cleaned_data, self.request.user
        if action == "withdraw":
            services.withdraw(escalation, user=user, note=data["note"])
        elif action == "responded":
            services.record_response(escalation, user=user, at=data["at"], note=data["note"])
        else:
            services.record_resolution(escalation, user=user, at=data["at"], note=data["note"])
        return f"{ACTIONS[action][2]} for {escalation.incident.number}."

    def get_success_url(self, obj):
        return escalation_url(obj)
