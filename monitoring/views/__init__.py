"""The monitoring pages (``/monitoring/``): the overview, checks, alerts, maintenance windows,
integrations, metric rules and zones; ``home`` registers the navigation entry and the home panel;
``ping`` answers the heartbeat pings."""
