"""Change management's choices and its transition tables (DESIGN.md §4, §7)."""

from django.db import models


class ChangeType(models.TextChoices):
    STANDARD = "standard", "Standard"
    NORMAL = "normal", "Normal"
    EMERGENCY = "emergency", "Emergency"


class ChangeState(models.TextChoices):
    NEW = "new", "New"
    ASSESS = "assess", "Assess"
    AUTHORIZE = "authorize", "Authorize"
    SCHEDULED = "scheduled", "Scheduled"
    IMPLEMENT = "implement", "Implement"
    REVIEW = "review", "Review"
    CLOSED = "closed", "Closed"
    CANCELED = "canceled", "Canceled"


T, S = ChangeType, ChangeState
# The only moves a change may make, per type: state → the states it may go to next.
# - standard (from a pre-approved template): new → scheduled, no approvals;
# - normal: new → assess → authorize (approval stages) → scheduled → implement → review → closed;
# - emergency: new → authorize (emergency CAB) → scheduled → implement → review → closed.
# authorize → scheduled is made by the last approval (``changes.services.approvals``), never by
# hand; a rejection sends the change back to new. implement → closed skips the review, which only
# a successful normal or standard change may do (``REVIEW_REQUIRED`` below).
_DELIVERY = {
    S.SCHEDULED: (S.IMPLEMENT, S.CANCELED),
    S.IMPLEMENT: (S.REVIEW, S.CLOSED),
    S.REVIEW: (S.CLOSED,),
    S.CLOSED: (),
    S.CANCELED: (),
}
CHANGE_TRANSITIONS = {
    T.STANDARD: {S.NEW: (S.SCHEDULED, S.CANCELED), **_DELIVERY},
    T.NORMAL: {
        S.NEW: (S.ASSESS, S.CANCELED),
        S.ASSESS: (S.AUTHORIZE, S.NEW, S.CANCELED),
        S.AUTHORIZE: (S.SCHEDULED, S.NEW, S.CANCELED),
        **_DELIVERY,
    },
    T.EMERGENCY: {
        S.NEW: (S.AUTHORIZE, S.CANCELED),
        S.AUTHORIZE: (S.SCHEDULED, S.NEW, S.CANCELED),
        **_DELIVERY,
    },
}
OPEN_STATES = (S.NEW, S.ASSESS, S.AUTHORIZE, S.SCHEDULED, S.IMPLEMENT, S.REVIEW)
DONE_STATES = (S.CLOSED, S.CANCELED)
# States whose planned window books the CIs and the assignee (conflict detection, the calendar).
BOOKED_STATES = (S.AUTHORIZE, S.SCHEDULED, S.IMPLEMENT)
# States in which an edit of the plans, schedule or CIs resets the approvals given so far.
APPROVED_STATES = (S.AUTHORIZE, S.SCHEDULED)


class CloseCode(models.TextChoices):
    SUCCESSFUL = "successful", "Successful"
    SUCCESSFUL_WITH_ISSUES = "successful_with_issues", "Successful with issues"
    UNSUCCESSFUL = "unsuccessful", "Unsuccessful"
    BACKED_OUT = "backed_out", "Backed out"


SUCCESS_CODES = (CloseCode.SUCCESSFUL, CloseCode.SUCCESSFUL_WITH_ISSUES)


def review_required(change_type, close_code):
    """A post-implementation review is required after an emergency or an unsuccessful change."""
    return change_type == T.EMERGENCY or (bool(close_code) and close_code not in SUCCESS_CODES)


class RiskLevel(models.TextChoices):
    LOW = "low", "Low"
    MODERATE = "moderate", "Moderate"
    HIGH = "high", "High"
    VERY_HIGH = "very_high", "Very high"


class ApproverKind(models.TextChoices):
    """Who may approve a stage: a named team, the change's own assignment team (technical peer
    review), or the managers. Only members holding the approver or manager role are eligible."""

    TEAM = "team", "A team"
    ASSIGNMENT_TEAM = "assignment_team", "The change's assignment team"
    MANAGERS = "managers", "Managers"


class StageState(models.TextChoices):
    WAITING = "waiting", "Waiting"  # an earlier stage is not yet approved
    PENDING = "pending", "Awaiting approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    RESET = "reset", "Reset"  # the change was edited after the approval round began


class Decision(models.TextChoices):
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class TemplateState(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    RETIRED = "retired", "Retired"


class ChangeTimelineKind(models.TextChoices):
    NOTE = "note", "Work note"
    STATE = "state", "State change"
    APPROVAL = "approval", "Approval"
    RISK = "risk", "Risk"
    SCHEDULE = "schedule", "Schedule"
    ASSIGNMENT = "assignment", "Assignment"
    LINK = "link", "Link"
    SYSTEM = "system", "System"


class ConflictKind(models.TextChoices):
    SAME_CI = "same_ci", "Another change on the same CI"
    IMPACTED_CI = "impacted_ci", "Another change on a CI in the impact set"
    ASSIGNEE = "assignee", "The assignee is booked twice"
    BLACKOUT = "blackout", "Blackout window"
