"""Read-side queries of incidents worth naming: the list's queryset (a constant number of
queries whatever the page size), the "breaching soon" condition the queue and the home page
share, an incident's timeline, and the known errors that may explain an incident."""

import re
from datetime import timedelta
from functools import reduce
from operator import add

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Case, CharField, Count, Exists, F, IntegerField, OuterRef, Q, Value, When
from django.utils import timezone

from cmdb.models import CI
from incidents.choices import OPEN_STATES
from incidents.models import Incident, KnownError, TimelineEntry

# "Breaching soon": a running clock due within this long counts even before its first warning.
BREACHING_WINDOW = timedelta(hours=1)


def incident_queryset():
    """Incidents with what the API list and detail show: the related rows joined and the SLA
    clocks prefetched (three queries). Call ``attach_related`` on the page of incidents read for
    their affected CIs, affected services and watchers (one query)."""
    from slas.selectors import clock_prefetch

    return Incident.objects.select_related(
        "category", "caller", "assignment_team", "assignee", "opened_by", "parent", "problem"
    ).prefetch_related(clock_prefetch())


RELATED = ("affected_cis", "affected_services", "watchers")


def attach_related(incidents):
    """Load the affected CIs and services (id and name) and the watchers (id) of ``incidents``
    in one query — a UNION over the three link tables — and keep them as the incidents'
    prefetched ``affected_cis``, ``affected_services`` and ``watchers`` (``.all()`` then costs
    no query). Returns ``incidents``."""
    incidents = [incident for incident in incidents if incident.pk is not None]
    if not incidents:
        return incidents
    ids = [incident.pk for incident in incidents]
    parts = []
    for name in RELATED:
        field = Incident._meta.get_field(name)
        through = field.remote_field.through
        target = field.m2m_reverse_field_name()  # "ci" or "user"
        label = "username" if name == "watchers" else "name"
        parts.append(
            through.objects.filter(incident_id__in=ids)
            .annotate(relation=Value(name, output_field=CharField()), label=F(f"{target}__{label}"))
            .values_list("incident_id", "relation", f"{target}_id", "label")
        )
    rows = parts[0].union(*parts[1:], all=True).order_by("label", "incident_id")
    found = {(incident.pk, name): [] for incident in incidents for name in RELATED}
    User = get_user_model()
    for incident_id, relation, pk, label in rows:
        related = User(pk=pk, username=label) if relation == "watchers" else CI(pk=pk, name=label)
        related._state.adding, related._state.db = False, Incident.objects.db
        found[(incident_id, relation)].append(related)
    for incident in incidents:
        cache = incident.__dict__.setdefault("_prefetched_objects_cache", {})
        for name in RELATED:
            cache.pop(name, None)
            queryset = getattr(incident, name).get_queryset()  # as Django's own prefetch does
            queryset._result_cache = found[(incident.pk, name)]
            queryset._prefetch_done = True
            cache[name] = queryset
    return incidents


def breaching_clocks(now=None):
    """SLA clocks of incidents that breach or are about to: running with a warning issued or
    due within ``BREACHING_WINDOW``, or breached and not stopped yet (a response clock that
    breached and was then answered no longer counts)."""
    from slas.choices import ClockState
    from slas.models import SLAClock

    now = now or timezone.now()
    return SLAClock.objects.filter(content_type=ContentType.objects.get_for_model(Incident)).filter(
        Q(state=ClockState.RUNNING, warned_pct__gt=0)
        | Q(state=ClockState.RUNNING, due_at__lte=now + BREACHING_WINDOW)
        | Q(breached_at__isnull=False, stopped_at__isnull=True) & ~Q(state__in=[ClockState.MET, ClockState.CANCELED])
    )


def breaching(queryset, now=None):
    """The open incidents of ``queryset`` with a breaching clock (see ``breaching_clocks``)."""
    clocks = breaching_clocks(now).filter(object_id=OuterRef("pk"))
    return queryset.filter(state__in=OPEN_STATES).filter(Exists(clocks))


def timeline(incident, *, kinds=None, public_only=False):
    """The incident's timeline, oldest first, with authors and attachments joined."""
    entries = TimelineEntry.objects.filter(incident=incident).select_related("author", "attachment")
    if kinds:
        entries = entries.filter(kind__in=kinds)
    if public_only:
        entries = entries.filter(public=True)
    return entries.order_by("time", "id")


# --- known errors -----------------------------------------------------------------------------

WORD_RE = re.compile(r"[^\W_][\w-]{3,}")
STOPWORDS = frozenset(
    [
        *("about", "after", "again", "also", "been", "before", "being", "cannot", "could", "does", "doing"),
        *("down", "from", "have", "here", "into", "more", "most", "once", "only", "other", "over", "same"),
        *("should", "some", "than", "that", "their", "them", "then", "there", "these", "they", "this"),
        *("those", "through", "under", "until", "very", "were", "what", "when", "where", "which", "while"),
        *("will", "with", "would", "your", "error", "issue", "problem", "incident", "users", "user"),
        *("please", "cant", "wont", "dont", "still", "since"),
    ]
)
MAX_WORDS = 8


def significant_words(text):
    """The words of ``text`` worth matching on (longest first, at most ``MAX_WORDS``)."""
    words = {w.lower() for w in WORD_RE.findall(text or "")} - STOPWORDS
    return sorted(words, key=lambda w: (-len(w), w))[:MAX_WORDS]


def suggested_known_errors(incident, limit=5):
    """Active known errors that may explain ``incident``: those sharing its affected CIs first
    (most shared first), then those whose title or symptom share words with its title (most
    words first). Two queries at most."""
    base = KnownError.objects.filter(active=True)
    ci_ids = list(incident.affected_cis.values_list("pk", flat=True)) if incident.pk else []
    found = []
    if ci_ids:
        found = list(
            base.annotate(shared=Count("affected_cis", filter=Q(affected_cis__in=ci_ids)))
            .filter(shared__gt=0)
            .order_by("-shared", "-created_at", "-pk")[:limit]
        )
    words = significant_words(incident.title)
    if len(found) < limit and words:
        score = reduce(
            add,
            (
                Case(
                    When(Q(title__icontains=word) | Q(symptom__icontains=word), then=Value(1)),
                    default=Value(0),
                    output_field=IntegerField(),
                )
                for word in words
            ),
        )
        found += list(
            base.exclude(pk__in=[k.pk for k in found])
            .annotate(score=score)
            .filter(score__gt=0)
            .order_by("-score", "-created_at", "-pk")[: limit - len(found)]
        )
    return found
