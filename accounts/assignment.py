"""Assigning work to a team and a person: the rules and the timeline wording that incidents and
changes share (``incidents.services.incidents``, ``changes.services``).

``check_assignment`` raises Django's ``ValidationError`` naming the field (``assignee`` or
``assignment_team``); the others only read.
"""

from django.core.exceptions import ValidationError


def username(user):
    return user.get_username() if user is not None else None


def in_team(team, user):
    """Whether ``user`` is a member of ``team`` (never when there is no team)."""
    return team is not None and team.members.filter(pk=user.pk).exists()


def check_assignment(team, assignee, *, permission, work):
    """``(team, assignee)`` once ``assignee`` is known to be active, to hold ``permission`` (the
    agent role for ``work``, e.g. "incidents") and to be a member of ``team``. An assignee given
    without a team brings their team when they are in exactly one."""
    if assignee is None:
        return team, None
    name = assignee.get_username()
    if not assignee.is_active:
        raise ValidationError({"assignee": f"{name} is not an active user."})
    if not assignee.has_perm(permission):
        raise ValidationError({"assignee": f"{name} cannot work {work} (no agent role)."})
    if team is None:
        teams = list(assignee.teams.all()[:2])
        if len(teams) != 1:
            where = "is in several teams" if teams else "is in no team"
            raise ValidationError({"assignment_team": f"{name} {where}: choose the assignment team too."})
        return teams[0], assignee
    if not in_team(team, assignee):
        raise ValidationError(
            {"assignee": f"{name} is not a member of {team.name}: choose one of its members, or another team."}
        )
    return team, assignee


def assignment_line(old_team, old_assignee, team, assignee):
    """The timeline line of an assignment, as the ``body`` and ``data`` of a timeline ``record``."""
    return {"body": assignment_text(team, assignee), "data": assignment_data(old_team, old_assignee, team, assignee)}


def assignment_text(team, assignee):
    """The timeline line of an assignment: "Assigned to alice (Network)."."""
    if team is None and assignee is None:
        return "Unassigned."
    if assignee is None:
        return f"Assigned to {team.name}."
    return f"Assigned to {assignee.get_username()} ({team.name})." if team else f"Assigned to {username(assignee)}."


def assignment_data(old_team, old_assignee, team, assignee):
    """The timeline data of an assignment: the team and assignee before and after, by name."""
    return {
        "from_team": old_team.name if old_team else None,
        "to_team": team.name if team else None,
        "from_assignee": username(old_assignee),
        "to_assignee": username(assignee),
    }
