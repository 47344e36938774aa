"""FilterSets shared by the UI lists and the API: incidents (``incidents.filters.incidents``),
problems and known errors (``incidents.filters.problems``)."""
