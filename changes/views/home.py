"""The Changes navigation entries and the home-page panels."""


def register():
    """Register the navigation entries and home panels of the change pages."""
