from celery import shared_task

from accounts import services
from itom.tasks import PortalTask


@shared_task(base=PortalTask)
def import_teams(rows, acting_user_id=None):
    """Create or update teams in the background (e.g. a sync from a directory), all or nothing.
    Validation errors are not retried (only database and broker errors are)."""
    created, updated = services.import_teams(rows)
    return {"created": created, "updated": updated}
