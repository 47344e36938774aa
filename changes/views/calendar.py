"""The change calendar (month and week views: changes coloured by state and bordered by risk,
blackout windows shaded, previous / next / today; the "Subscribe" box with the user's iCalendar
feed URL), the feed itself (``/changes/calendar/feed/<token>.ics``: no session, the token is the
credential) and the CAB page (the next meeting's agenda)."""

import datetime as dt
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views import View, generic

from changes import ics, selectors
from changes.choices import ChangeState, RiskLevel, StageState
from changes.models import CalendarFeed, ChangeApprovalStage, ChangeRequest
from changes.services import approvals
from itom.generic import PortalPermissionMixin

MONTH, WEEK = "month", "week"
CHANGES_PER_DAY = 4  # a month cell lists this many changes, then "+N more" (the week view shows all)


@dataclass
class Day:
    date: dt.date
    start: dt.datetime
    end: dt.datetime
    in_month: bool = True
    changes: list = field(default_factory=list)
    blackouts: list = field(default_factory=list)

    @property
    def is_today(self):
        return self.date == timezone.localdate()

    @property
    def shown(self):
        return self.changes[:CHANGES_PER_DAY]

    @property
    def more(self):
        return max(0, len(self.changes) - CHANGES_PER_DAY)


def _midnight(day):
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def parse_day(raw):
    """``YYYY-MM-DD`` → a date; None when missing or malformed."""
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def month_bounds(day):
    """The month's grid: from the Monday on or before the 1st to the Sunday on or after its last day."""
    first = day.replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return first - dt.timedelta(days=first.weekday()), last + dt.timedelta(days=6 - last.weekday()), first, last


def shift_month(day, months):
    month = day.month - 1 + months
    return dt.date(day.year + month // 12, month % 12 + 1, 1)


class ChangeCalendarView(PortalPermissionMixin, generic.TemplateView):
    """``/changes/calendar/?view=month|week&date=YYYY-MM-DD`` (month and today by default)."""

    model = ChangeRequest
    template_name = "changes/calendar.html"

    def get_context_data(self, **kwargs):
        request = self.request
        view = WEEK if request.GET.get("view") == WEEK else MONTH
        raw = request.GET.get("date", "")
        day = parse_day(raw)
        if day is None:
            if raw:
                messages.warning(request, f"“{raw}” is not a date (YYYY-MM-DD): showing today.")
            day = timezone.localdate()
        if view == MONTH:
            grid_start, grid_end, first, last = month_bounds(day)
            previous, following = shift_month(first, -1), shift_month(first, 1)
            heading = first.strftime("%B %Y")
        else:
            grid_start = day - dt.timedelta(days=day.weekday())
            grid_end = grid_start + dt.timedelta(days=6)
            first, last = grid_start, grid_end
            previous, following = grid_start - dt.timedelta(days=7), grid_start + dt.timedelta(days=7)
            heading = f"Week of {grid_start:%d %B %Y}"
        days = []
        current = grid_start
        while current <= grid_end:
            days.append(
                Day(current, _midnight(current), _midnight(current + dt.timedelta(days=1)), first <= current <= last)
            )
            current += dt.timedelta(days=1)
        changes, blackouts = selectors.calendar_entries(days[0].start, days[-1].end)
        changes, blackouts = list(changes), list(blackouts)
        risk_labels = dict(RiskLevel.choices)
        for change in changes:
            change.risk_label = risk_labels.get(change.effective_risk, change.effective_risk)
        for entry in days:
            entry.changes = [c for c in changes if c.planned_start < entry.end and c.planned_end > entry.start]
            entry.blackouts = [b for b in blackouts if b.start < entry.end and b.end > entry.start]
        feed, _ = CalendarFeed.objects.get_or_create(user=request.user)
        base = reverse("changes:calendar")
        kwargs.update(
            view=view,
            day=day,
            heading=heading,
            weeks=[days[i : i + 7] for i in range(0, len(days), 7)],
            days=days,
            changes=changes,
            blackouts=blackouts,
            previous_url=f"{base}?{urlencode({'view': view, 'date': previous.isoformat()})}",
            next_url=f"{base}?{urlencode({'view': view, 'date': following.isoformat()})}",
            today_url=f"{base}?{urlencode({'view': view})}",
            month_url=f"{base}?{urlencode({'view': MONTH, 'date': day.isoformat()})}",
            week_url=f"{base}?{urlencode({'view': WEEK, 'date': day.isoformat()})}",
            feed_url=request.build_absolute_uri(reverse("changes:calendar_feed", args=[feed.token])),
            feed=feed,
            states=[(value, label) for value, label in ChangeState.choices if value != ChangeState.CANCELED],
            risk_levels=RiskLevel.choices,
        )
        return super().get_context_data(**kwargs)


class CalendarFeedView(View):
    """The iCalendar feed of the user whose token is in the URL (a mail client can't sign in).
    An unknown token, or a user who may no longer see changes, answers 404."""

    def get(self, request, token):
        feed = CalendarFeed.objects.select_related("user").filter(token=token).first()
        if feed is None or not feed.user.is_active or not feed.user.has_perm("changes.view_changerequest"):
            raise Http404("No such calendar feed.")
        CalendarFeed.objects.filter(pk=feed.pk).update(last_fetched_at=timezone.now())
        response = HttpResponse(ics.calendar_feed(feed.user), content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = 'inline; filename="changes.ics"'
        response["Cache-Control"] = "private, max-age=300"
        return response


class RegenerateFeedView(LoginRequiredMixin, View):
    """POST: a new token for the user's feed (the old URL stops working)."""

    def post(self, request):
        if not request.user.has_perm("changes.view_changerequest"):
            raise Http404
        feed, _ = CalendarFeed.objects.get_or_create(user=request.user)
        feed.regenerate()
        messages.success(request, "Your calendar feed has a new address: the old one no longer works.")
        return redirect(f"{reverse('changes:calendar')}#subscribe")


class CABView(PortalPermissionMixin, generic.TemplateView):
    """The next change advisory board meeting: what awaits the CAB's decision, the
    post-implementation reviews, and the forward schedule until the meeting after."""

    model = ChangeRequest
    template_name = "changes/cab.html"

    def get_context_data(self, **kwargs):
        agenda = approvals.cab_agenda()
        awaiting = list(agenda.awaiting)
        pending = ChangeApprovalStage.objects.filter(
            change_id__in=[change.pk for change in awaiting], state=StageState.PENDING, is_cab=True
        )
        stages = {(stage.change_id, stage.round): stage for stage in pending}
        for change in awaiting:
            change.cab_stage = stages.get((change.pk, change.approval_round))
        kwargs.update(
            agenda=agenda,
            awaiting=awaiting,
            reviews=list(agenda.reviews),
            forward_schedule=list(agenda.forward_schedule),
        )
        return super().get_context_data(**kwargs)
