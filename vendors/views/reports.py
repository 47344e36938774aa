"""Two lists for whoever looks after contracts: the renewals due (notice deadlines within the
next days, and contracts that expired lately) and the production CIs that no active support
contract covers."""

from django.core.paginator import Paginator
from django.utils import timezone
from django.views import generic

from itom.generic import PortalPermissionMixin
from vendors.models import Contract

RENEWAL_DAYS = (30, 60, 90, 180, 365)  # the horizons the renewals page offers
DEFAULT_RENEWAL_DAYS = 90


class RenewalsView(PortalPermissionMixin, generic.TemplateView):
    """``/vendors/contracts/renewals/?days=90``: contracts whose notice deadline is within the
    days, or that expired in the last 30 days, soonest first."""

    model = Contract
    template_name = "vendors/renewals.html"

    def get_context_data(self, **kwargs):
        from vendors.services.renewals import renewals_due

        raw = self.request.GET.get("days", "")
        days = int(raw) if raw.isdigit() and int(raw) in RENEWAL_DAYS else DEFAULT_RENEWAL_DAYS
        today = timezone.localdate()
        contracts = list(renewals_due(today, days=days).select_related("vendor", "owner"))
        for contract in contracts:
            contract.days_left = (contract.notice_deadline - today).days
            contract.expired = contract.end_date < today
        kwargs.update(title="Renewals due", subnav="renewals", contracts=contracts, days=days, day_choices=RENEWAL_DAYS)
        return super().get_context_data(**kwargs)


class UnsupportedCIsView(PortalPermissionMixin, generic.TemplateView):
    """``/vendors/unsupported-cis/``: active production CIs no active support contract covers."""

    model = Contract
    template_name = "vendors/unsupported_cis.html"
    paginate_by = 50

    def get_context_data(self, **kwargs):
        from vendors.selectors import unsupported_production_cis

        cis = unsupported_production_cis().select_related("ci_class").order_by("name", "pk")
        page = Paginator(cis, self.paginate_by).get_page(self.request.GET.get("page"))
        kwargs.update(title="Production CIs without support", subnav="unsupported", page_obj=page, cis=page)
        return super().get_context_data(**kwargs)
