"""A change's risk: a score from the questionnaire and the CMDB, and the level it falls in.

``assess(change)`` adds up four factors and explains each in a sentence (the detail page and
the API show them):

- **questionnaire**: the points of the options chosen (``RiskOption.score``; managers edit the
  questions and their points);
- **criticality**: the most critical affected CI (``CRITICALITY_POINTS``);
- **environment**: the most exposed environment among the affected CIs (``ENVIRONMENT_POINTS``);
- **services**: the business services the change impacts (``SERVICE_POINTS`` each, at most
  ``SERVICE_POINTS_CAP``), as ``changes.services.changes.refresh_impact`` stored them.

The score falls in a level by ``LEVEL_BOUNDS``. A standard change takes its template's level
(it was assessed once, when the template was approved); its score is still computed, for
information. A manager's override (``ChangeRequest.risk_override``) is kept apart: the level that
counts is ``ChangeRequest.effective_risk``.
"""

from dataclasses import dataclass, field

from changes.choices import ChangeType, RiskLevel
from cmdb.choices import Criticality, Environment

# Points of the most critical affected CI, by its criticality (1 is the worst).
CRITICALITY_POINTS = {Criticality.CRITICAL: 6, Criticality.HIGH: 4, Criticality.MEDIUM: 2, Criticality.LOW: 0}
# Points of the most exposed environment among the affected CIs; environments not named: 0.
ENVIRONMENT_POINTS = {Environment.PRODUCTION: 4, Environment.DISASTER_RECOVERY: 3, Environment.STAGING: 1}
# Points per impacted business service, and the most the services may add together.
SERVICE_POINTS = 2
SERVICE_POINTS_CAP = 10
# A score below each bound is of that level; at or above the last bound: very high.
LEVEL_BOUNDS = ((8, RiskLevel.LOW), (16, RiskLevel.MODERATE), (24, RiskLevel.HIGH))
TOP_LEVEL = RiskLevel.VERY_HIGH
# How many service names a factor's sentence lists before "and N more".
NAMES_SHOWN = 5


@dataclass(frozen=True)
class Assessment:
    score: int
    level: str
    factors: list = field(default_factory=list)  # [{"factor", "label", "points"}, …]


def level_for(score):
    """The risk level a score falls in."""
    for bound, level in LEVEL_BOUNDS:
        if score < bound:
            return str(level)
    return str(TOP_LEVEL)


def _names(names):
    shown = ", ".join(names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def _questionnaire(change):
    options = list(change.risk_answers.select_related("question").order_by("question__order", "question_id"))
    points = sum(option.score for option in options)
    if not options:
        return {"factor": "questionnaire", "label": "The risk questionnaire is not answered yet.", "points": 0}
    adding = [f"“{option.label}” (+{option.score})" for option in options if option.score]
    count = f"{len(options)} answer{'s' if len(options) != 1 else ''}"
    label = (
        f"Questionnaire: {count}, of which {', '.join(adding)}."
        if adding
        else f"Questionnaire: {count}, none adding points."
    )
    return {"factor": "questionnaire", "label": label, "points": points}


def _criticality(cis):
    if not cis:
        return {"factor": "criticality", "label": "No affected CI.", "points": 0}
    worst = min(cis, key=lambda ci: (ci.criticality, ci.name))
    label = f"Most critical CI: {worst.name} ({Criticality(worst.criticality).label})"
    return {"factor": "criticality", "label": label, "points": CRITICALITY_POINTS.get(worst.criticality, 0)}


def _environment(cis):
    if not cis:
        return {"factor": "environment", "label": "No affected CI.", "points": 0}
    exposed = min(cis, key=lambda ci: (-ENVIRONMENT_POINTS.get(ci.environment, 0), ci.name))
    points = ENVIRONMENT_POINTS.get(exposed.environment, 0)
    environment = Environment(exposed.environment).label if exposed.environment in Environment.values else "unknown"
    label = f"Most exposed environment: {environment} ({exposed.name})"
    return {"factor": "environment", "label": label, "points": points}


def _services(change):
    names = list(change.impacted_services.order_by("name").values_list("name", flat=True))
    if not names:
        return {"factor": "services", "label": "No business service impacted.", "points": 0}
    points = min(SERVICE_POINTS * len(names), SERVICE_POINTS_CAP)
    count = f"{len(names)} business service{'s' if len(names) != 1 else ''}"
    capped = f" (capped at {SERVICE_POINTS_CAP})" if SERVICE_POINTS * len(names) > SERVICE_POINTS_CAP else ""
    return {"factor": "services", "label": f"{count} impacted: {_names(names)}{capped}", "points": points}


def assess(change):
    """The change's score, level and the factors that explain them (four queries)."""
    cis = list(change.affected_cis.only("name", "criticality", "environment"))
    factors = [_questionnaire(change), _criticality(cis), _environment(cis), _services(change)]
    score = sum(factor["points"] for factor in factors)
    level = level_for(score)
    if change.type == ChangeType.STANDARD and change.template_id is not None:
        template = change.template
        level = str(template.risk_level)
        factors.append(
            {
                "factor": "template",
                "label": f"Standard change: the level is that of its template {template} "
                f"({RiskLevel(template.risk_level).label}).",
                "points": 0,
            }
        )
    return Assessment(score=score, level=level, factors=factors)


def apply(change):
    """Assess ``change`` and store the result (``risk_score``, ``risk_level``, ``risk_factors``)."""
    assessment = assess(change)
    change.risk_score = assessment.score
    change.risk_level = assessment.level
    change.risk_factors = assessment.factors
    change.save(update_fields=["risk_score", "risk_level", "risk_factors", "updated_at"])
    return assessment
