"""Demo vendors for ``manage.py seed_demo``: four vendors with their contacts, contracts covering
the demo estate (one whose notice deadline is a few weeks away, one that renews by itself), and
the incident "Payroll export fails with a database deadlock" escalated to its database vendor.

Runs after the incidents demo and before the changes demo (INSTALLED_APPS order). Everything goes
through ``vendors.services`` as a manager and an agent would do it, so the audit trail, the
vendor clocks and the incident's timeline are real. Idempotent: vendors by name, contracts by
title, the escalation by incident and contract.
"""

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from cmdb.models import CI
from incidents.models import Incident
from slas.models import BusinessCalendar
from vendors.models import Contract, Vendor, VendorCategory, VendorEscalation
from vendors.services import contracts, escalations

VENDORS = [
    (
        "Oracle",
        ["software"],
        {
            "website": "https://www.oracle.com/",
            "support_portal": "https://support.oracle.com/",
            "support_phone": "+33 1 57 60 20 20",
            "support_email": "support@oracle.example.com",
            "account_manager": "Claire Martin",
        },
        [("Support desk", "First line", 1), ("Laurent Petit", "Duty manager", 2)],
    ),
    (
        "Hewlett Packard Enterprise",
        ["hardware", "services"],
        {
            "website": "https://www.hpe.com/",
            "support_portal": "https://support.hpe.com/",
            "support_phone": "+33 1 57 32 40 00",
            "account_manager": "Marc Durand",
        },
        [("HPE Pointnext", "Hardware support", 1)],
    ),
    (
        "Cisco Systems",
        ["hardware"],
        {"website": "https://www.cisco.com/", "support_portal": "https://mycase.cloudapps.cisco.com/"},
        [("TAC", "Technical Assistance Center", 1)],
    ),
    (
        "Orange Business",
        ["telecom", "cloud"],
        {"website": "https://www.orange-business.com/", "support_phone": "+33 800 000 000"},
        [("Service desk", "Network incidents", 1), ("Sophie Leroy", "Service delivery manager", 2)],
    ),
]


def _terms(*rows):
    return [
        {"priority": p, "response_minutes": response, "resolution_minutes": resolution}
        for p, response, resolution in rows
    ]


def seed(stdout):
    users = {u.username: u for u in get_user_model()._default_manager.filter(username__contains=".")}
    manager, dana = users.get("mia.manager"), users.get("dana.dba")
    if manager is None:
        stdout.write("Vendors: skipped (the demo people are missing).")
        return
    office = BusinessCalendar.objects.filter(name="Office hours").first()
    always = BusinessCalendar.objects.filter(name="24 × 7").first()
    vendors = {}
    for name, categories, fields, contacts in VENDORS:
        vendor = Vendor.objects.filter(name=name).first()
        if vendor is None:
            vendor = contracts.create_vendor(user=manager, name=name, **fields)
            vendor.categories.set(VendorCategory.objects.filter(slug__in=categories))
            for contact, role, level in contacts:
                contracts.add_contact(vendor, user=manager, name=contact, role=role, escalation_level=level)
        vendors[name] = vendor

    today = timezone.localdate()
    year = dt.timedelta(days=365)
    plans = [
        (
            "Oracle Database premier support",
            "Oracle",
            {
                "type": "support",
                "start_date": today - year,
                "end_date": today + dt.timedelta(days=75),  # the notice deadline is ~45 days away
                "notice_days": 30,
                "cost_amount": Decimal("48000.00"),
                "currency": "EUR",
                "billing_period": "yearly",
                "covered": ["payroll-db", "ora-01"],
                "calendar": office,
                "terms": _terms((1, 60, 480), (2, 120, 960), (3, 480, 2400), (4, 960, 4800)),
            },
        ),
        (
            "HPE ProLiant foundation care",
            "Hewlett Packard Enterprise",
            {
                "type": "maintenance",
                "start_date": today - dt.timedelta(days=200),
                "end_date": today + dt.timedelta(days=530),
                "auto_renew": True,
                "renewal_months": 12,
                "notice_days": 60,
                "cost_amount": Decimal("1250.00"),
                "currency": "EUR",
                "billing_period": "monthly",
                "covered": ["ora-01", "win-01", "hv-01", "hv-02", "pg-01", "pg-02"],
                "calendar": always,
                "terms": _terms((1, 240, 1440), (2, 240, 2880), (3, 480, 4320)),
            },
        ),
        (
            "Cisco Smart Net Total Care",
            "Cisco Systems",
            {
                "type": "support",
                "start_date": today - dt.timedelta(days=400),
                "end_date": today + dt.timedelta(days=330),
                "notice_days": 90,
                "cost_amount": Decimal("18500.00"),
                "currency": "USD",
                "billing_period": "yearly",
                "covered": ["core-sw-01", "access-sw-01", "access-sw-02"],
                "calendar": always,
                "terms": _terms((1, 30, 240), (2, 60, 480), (3, 240, 1440)),
            },
        ),
        (
            "Orange internet access and MPLS",
            "Orange Business",
            {
                "type": "saas",
                "start_date": today - dt.timedelta(days=900),
                "end_date": today + dt.timedelta(days=195),
                "auto_renew": True,
                "renewal_months": 36,
                "notice_days": 90,
                "cost_amount": Decimal("3900.00"),
                "currency": "EUR",
                "billing_period": "monthly",
                "covered": ["edge-rtr-01"],
                "calendar": always,
                "terms": _terms((1, 15, 240), (2, 30, 480)),
            },
        ),
    ]
    made = 0
    for title, vendor, plan in plans:
        if Contract.objects.filter(title=title).exists():
            continue
        covered = list(CI.objects.filter(name__in=plan.pop("covered")))
        calendar = plan.pop("calendar")
        contracts.create_contract(
            user=manager,
            vendor=vendors[vendor],
            title=title,
            owner=manager,
            covered_cis=covered,
            support_calendar=calendar,
            **plan,
        )
        made += 1

    incident = Incident.objects.filter(title="Payroll export fails with a database deadlock").first()
    oracle = Contract.objects.filter(title="Oracle Database premier support").first()
    if (
        incident is not None
        and oracle is not None
        and not VendorEscalation.objects.filter(incident=incident, contract=oracle).exists()
    ):
        escalations.escalate(
            incident,
            user=dana or manager,
            contract=oracle,
            vendor_ticket="SR 3-31415926",
            note="Deadlock traces uploaded to the service request.",
        )
    stdout.write(f"Vendors: {made} contracts created, {Contract.objects.count()} in all; an incident escalated.")
