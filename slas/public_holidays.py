"""Public holidays from the ``holidays`` package, for pre-filling a business calendar.

Names are in English where the package has them (``en_US``), else in the country's language.
"""

import datetime as dt
from functools import lru_cache

import holidays
from django.core.exceptions import ValidationError

MIN_YEAR, MAX_YEAR = 1950, 2100


@lru_cache(maxsize=1)
def countries():
    """``[(code, name)]`` of the supported countries, by name."""
    from holidays import registry

    names = {}
    for key, entry in registry.COUNTRIES.items():
        code = entry[1]
        names[code] = key.replace("_", " ").title()
    supported = holidays.list_supported_countries(include_aliases=False)
    return sorted(((code, names.get(code, code)) for code in supported), key=lambda item: item[1])


def subdivisions(country):
    """The subdivision codes the package knows for ``country`` (``[]`` for none or unknown)."""
    return list(holidays.list_supported_countries(include_aliases=False).get(country, ()))


def public_holidays(country, year, subdivision=""):
    """``[(date, name)]`` of ``country``'s public holidays in ``year`` (``subdivision``: a region
    code such as ``CA`` for California, when the country has them). Bad input is a
    ``ValidationError`` naming the field."""
    country = (country or "").strip().upper()
    subdivision = (subdivision or "").strip().upper()
    known = dict(countries())
    if country not in known:
        raise ValidationError({"country": f"Unknown country code “{country}”: use an ISO 3166 code such as FR or US."})
    if isinstance(year, bool) or not isinstance(year, int) or not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationError({"year": f"A year from {MIN_YEAR} to {MAX_YEAR}."})
    if subdivision:
        allowed = subdivisions(country)
        if subdivision not in allowed:
            shown = ", ".join(allowed[:40]) + (" …" if len(allowed) > 40 else "")
            raise ValidationError(
                {
                    "subdivision": f"{known[country]} has no subdivision “{subdivision}”"
                    + (f"; known: {shown}." if allowed else ": it has no subdivisions.")
                }
            )
    found = holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    if "en_US" in (getattr(found, "supported_languages", ()) or ()):
        found = holidays.country_holidays(country, subdiv=subdivision or None, years=year, language="en_US")
    by_date = {}
    for date, name in sorted(found.items()):
        if isinstance(date, dt.date) and date.year == year:
            by_date[date] = name if date not in by_date else f"{by_date[date]}; {name}"
    return sorted(by_date.items())
