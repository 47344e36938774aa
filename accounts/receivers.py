"""Receivers for signals other packages send (connected in ``AccountsConfig.ready``)."""

import logging

security_log = logging.getLogger("itom.security")


def log_locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    """django-axes refused a sign-in because the account is locked: say so in the log."""
    security_log.warning("Refused sign-in for locked-out user %r from %s", username, ip_address)
