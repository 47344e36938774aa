"""What the inbound-alert tests share: an integration with a real token and a client that sends
it, and Alertmanager webhook payloads (version 4) shaped like the ones Alertmanager posts."""

import itertools

from rest_framework.test import APIClient

from monitoring.services import integrations

ALERTMANAGER = "/api/v1/monitoring/ingest/alertmanager/"
EVENTS = "/api/v1/monitoring/ingest/events/"
METRICS = "/api/v1/monitoring/metrics/"
ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's "no end yet"

_names = itertools.count(1)


def integration(kind="alertmanager", **fields):
    """``(integration, token)``: a new integration made by the service, with its real token."""
    fields.setdefault("name", f"{kind} {next(_names)}")
    return integrations.create_integration(user=None, kind=kind, **fields)


def client_for(token, scheme="Bearer"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {token}")
    return client


def am_alert(fingerprint, *, status="firing", alertname="HighErrorRate", severity="critical", **labels):
    """One alert as Alertmanager sends it (labels given as keywords; ``instance`` etc.)."""
    return {
        "status": status,
        "labels": {"alertname": alertname, "job": "node", "severity": severity, **labels},
        "annotations": {"summary": f"{alertname} on {labels.get('instance', 'somewhere')}", "runbook": "wiki/x"},
        "startsAt": "2025-03-31T14:00:00.123456789Z",
        "endsAt": ZERO_TIME if status == "firing" else "2025-03-31T14:30:00.5Z",
        "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1",
        "fingerprint": fingerprint,
    }


def am_payload(*alerts, status=None):
    """An Alertmanager webhook notification (version 4) for one group."""
    status = status or ("firing" if any(a["status"] == "firing" for a in alerts) else "resolved")
    return {
        "receiver": "itom-portal",
        "status": status,
        "alerts": list(alerts),
        "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]} if alerts else {},
        "commonLabels": {"job": "node"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.com:9093",
        "version": "4",
        "groupKey": '{}/{severity=~"critical|major"}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
    }
