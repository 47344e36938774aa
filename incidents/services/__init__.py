"""Every state change and multi-step operation of incidents (``incidents.services.incidents``)
and of problems and known errors (``incidents.services.problems``)."""
