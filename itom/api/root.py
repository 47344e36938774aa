from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView


class APIRootView(APIView):
    """The API's entry point: links to every resource, the schema and the docs."""

    permission_classes = [IsAuthenticated]
    # Each app adds its resources here when it lands: {key: URL name in the "api" namespace}.
    links = {
        "audit": "audit-list",
        "teams": "team-list",
        "users": "user-list",
        "cmdb/classes": "cmdb-class-list",
        "cmdb/relationship-types": "cmdb-relationship-type-list",
        "cmdb/tags": "cmdb-tag-list",
        "cmdb/cis": "cmdb-ci-list",
        "cmdb/relationships": "cmdb-relationship-list",
        "cmdb/cis/export": "cmdb-ci-export",
        "cmdb/import": "cmdb-import",
        "cmdb/import/facts": "cmdb-import-facts",
        "cmdb/inventory/ansible": "cmdb-inventory-ansible",
        "sla/calendars": "sla-calendar-list",
        "sla/policies": "sla-policy-list",
        "notifications": "notification-list",
        "notifications/preferences": "notification-preferences",
        "notifications/webhooks": "notification-webhook-list",
        "incidents": "incident-list",
        "incident-categories": "incident-category-list",
        "priority-matrix": "priority-rule-list",
        "problems": "problem-list",
        "known-errors": "known-error-list",
        "vendors": "vendor-list",
        "vendors/contacts": "vendor-contact-list",
        "vendors/contracts": "vendor-contract-list",
        "vendors/contracts/renewals": "vendor-contract-renewals",
        "vendors/escalations": "vendor-escalation-list",
        "vendors/unsupported-cis": "vendor-unsupported-cis",
        "changes": "change-list",
        "changes/blackouts": "change-blackout-list",
        "changes/templates": "change-template-list",
        "changes/risk-questions": "change-risk-question-list",
        "changes/approval-policies": "change-approval-policy-list",
        "changes/cab": "change-cab",
        "changes/kpis": "change-kpis",
        "monitoring/zones": "monitoring-zone-list",
        "monitoring/checks": "monitoring-check-list",
        "monitoring/alerts": "monitoring-alert-list",
        "monitoring/maintenance": "monitoring-maintenance-list",
        "monitoring/integrations": "monitoring-integration-list",
        "monitoring/rules": "monitoring-rule-list",
        "monitoring/metrics": "monitoring-metrics",
        "schema": "schema",
        "docs": "docs",
    }

    @extend_schema(exclude=True)
    def get(self, request):
        return Response({key: reverse(f"api:{name}", request=request) for key, name in self.links.items()})
