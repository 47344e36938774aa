"""Attachment downloads for signed-in browsers (``incidents:attachment_download``). API clients
use ``GET /api/v1/incidents/{id}/attachments/{attachment id}/``."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_safe

from incidents.models import Attachment


@require_safe
@login_required
def attachment_download(request, pk):
    """The file, to people who may see incidents (as a download, never rendered inline)."""
    from incidents.api.views import attachment_response

    if not request.user.has_perm("incidents.view_incident"):
        raise PermissionDenied
    attachment = get_object_or_404(Attachment.objects.select_related("incident"), pk=pk)
    return attachment_response(attachment)
