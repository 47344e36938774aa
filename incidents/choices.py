from django.db import models


class IncidentState(models.TextChoices):
    NEW = "new", "New"
    IN_PROGRESS = "in_progress", "In progress"
    ON_HOLD = "on_hold", "On hold"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    CANCELED = "canceled", "Canceled"


S = IncidentState
# The only moves an incident may make (DESIGN.md §7): state → the states it may go to next.
INCIDENT_TRANSITIONS = {
    S.NEW: (S.IN_PROGRESS, S.ON_HOLD, S.RESOLVED, S.CANCELED),
    S.IN_PROGRESS: (S.ON_HOLD, S.RESOLVED, S.CANCELED),
    S.ON_HOLD: (S.IN_PROGRESS, S.RESOLVED, S.CANCELED),
    S.RESOLVED: (S.IN_PROGRESS, S.CLOSED),  # in_progress from resolved is a reopen
    S.CLOSED: (),
    S.CANCELED: (),
}
OPEN_STATES = (S.NEW, S.IN_PROGRESS, S.ON_HOLD)
DONE_STATES = (S.RESOLVED, S.CLOSED, S.CANCELED)


class Impact(models.IntegerChoices):
    HIGH = 1, "1 - High"
    MEDIUM = 2, "2 - Medium"
    LOW = 3, "3 - Low"


class Urgency(models.IntegerChoices):
    HIGH = 1, "1 - High"
    MEDIUM = 2, "2 - Medium"
    LOW = 3, "3 - Low"


class Priority(models.IntegerChoices):
    CRITICAL = 1, "1 - Critical"
    HIGH = 2, "2 - High"
    MODERATE = 3, "3 - Moderate"
    LOW = 4, "4 - Low"
    PLANNING = 5, "5 - Planning"


# The ITIL matrix the priority rules start from (managers edit the rules in the admin).
DEFAULT_PRIORITY_MATRIX = {
    (1, 1): 1,
    (1, 2): 2,
    (1, 3): 3,
    (2, 1): 2,
    (2, 2): 3,
    (2, 3): 4,
    (3, 1): 3,
    (3, 2): 4,
    (3, 3): 5,
}


class Source(models.TextChoices):
    MANUAL = "manual", "Manual"
    API = "api", "API"
    MONITORING = "monitoring", "Monitoring"
    EMAIL = "email", "E-mail"


class HoldReason(models.TextChoices):
    AWAITING_CALLER = "awaiting_caller", "Awaiting caller"
    AWAITING_CHANGE = "awaiting_change", "Awaiting change"
    AWAITING_PROBLEM = "awaiting_problem", "Awaiting problem"
    AWAITING_VENDOR = "awaiting_vendor", "Awaiting vendor"


class ResolutionCode(models.TextChoices):
    SOLVED = "solved", "Solved (permanently)"
    WORKAROUND = "workaround", "Solved (workaround)"
    NOT_REPRODUCIBLE = "not_reproducible", "Not reproducible"
    DUPLICATE = "duplicate", "Duplicate"
    USER_ERROR = "user_error", "User error"
    NO_FAULT_FOUND = "no_fault_found", "No fault found"
    RESOLVED_BY_CHANGE = "resolved_by_change", "Resolved by change"
    RECOVERED = "recovered", "Recovered by itself"


class TimelineKind(models.TextChoices):
    COMMENT = "comment", "Comment"
    WORK_NOTE = "work_note", "Work note"
    STATE = "state", "State change"
    ASSIGNMENT = "assignment", "Assignment"
    PRIORITY = "priority", "Priority change"
    ATTACHMENT = "attachment", "Attachment"
    SLA = "sla", "SLA"
    MAJOR = "major", "Major incident update"
    LINK = "link", "Link"
    SYSTEM = "system", "System"


class ProblemState(models.TextChoices):
    NEW = "new", "New"
    ASSESS = "assess", "Assess"
    ROOT_CAUSE_ANALYSIS = "root_cause_analysis", "Root cause analysis"
    FIX_IN_PROGRESS = "fix_in_progress", "Fix in progress"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


P = ProblemState
PROBLEM_TRANSITIONS = {
    P.NEW: (P.ASSESS, P.ROOT_CAUSE_ANALYSIS, P.CLOSED),
    P.ASSESS: (P.ROOT_CAUSE_ANALYSIS, P.FIX_IN_PROGRESS, P.CLOSED),
    P.ROOT_CAUSE_ANALYSIS: (P.FIX_IN_PROGRESS, P.RESOLVED, P.CLOSED),
    P.FIX_IN_PROGRESS: (P.ROOT_CAUSE_ANALYSIS, P.RESOLVED),
    P.RESOLVED: (P.ROOT_CAUSE_ANALYSIS, P.CLOSED),
    P.CLOSED: (),
}
OPEN_PROBLEM_STATES = (P.NEW, P.ASSESS, P.ROOT_CAUSE_ANALYSIS, P.FIX_IN_PROGRESS)


class ProblemTimelineKind(models.TextChoices):
    NOTE = "note", "Note"
    STATE = "state", "State change"
    WORKAROUND = "workaround", "Workaround"
    LINK = "link", "Incidents linked"
    UNLINK = "unlink", "Incident unlinked"
    KNOWN_ERROR = "known_error", "Known error"
