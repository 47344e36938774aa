"""``/api/v1/incidents/``, ``/api/v1/incident-categories/`` and ``/api/v1/priority-matrix/``.

Thin viewsets: every write goes through ``incidents.services.incidents``. The incident a write
acts on is locked and ``If-Match`` is checked (``PortalViewSetMixin``); the whole request is one
transaction, rolled back on any error. Incidents are not deleted: cancel them
(``POST …/transition/ {"state": "canceled"}``); managers may delete one in the admin console.

Actions on ``/api/v1/incidents/{id}/``: ``transition/`` · ``comments/`` (GET comments and work
notes, POST one) · ``timeline/`` (GET everything, ``?kind=``) · ``attachments/`` (GET, POST a
multipart ``file``) and ``attachments/{attachment id}/`` (the file) · ``promote/`` ·
``children/`` (GET, POST ``{"incident"}``) and ``children/{child id}/`` (DELETE unlinks) ·
``major-update/`` · ``resolve-children/``. ``POST /api/v1/incidents/bulk/`` assigns or moves
many incidents at once.
"""

from django.http import FileResponse, Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from incidents import selectors
from incidents.api.serializers import (
    AttachmentSerializer,
    AttachmentUploadSerializer,
    BriefIncidentSerializer,
    BulkResultSerializer,
    BulkSerializer,
    CategorySerializer,
    CommentSerializer,
    IncidentSerializer,
    LinkChildSerializer,
    MajorUpdateSerializer,
    PriorityRuleSerializer,
    ResolveChildrenSerializer,
    ResolvedChildrenSerializer,
    TimelineEntrySerializer,
    TransitionSerializer,
)
from incidents.choices import TimelineKind
from incidents.filters.incidents import CategoryFilterSet, IncidentFilterSet, PriorityRuleFilterSet
from incidents.models import Attachment, Category, Incident, PriorityRule
from incidents.services import incidents as services
from itom.api.params import kinds_param
from itom.api.viewsets import PortalModelViewSet, PortalReadOnlyViewSet

COMMENT_KINDS = (TimelineKind.COMMENT, TimelineKind.WORK_NOTE)


class IncidentViewSet(PortalModelViewSet):
    """Incidents, with their SLA clocks (``sla``) and affected business services embedded.
    ``?queue=mine|my_teams|unassigned|breaching|open`` gives the queue tabs' lists."""

    queryset = Incident.objects.all()
    serializer_class = IncidentSerializer
    filterset_class = IncidentFilterSet
    ordering_fields = ["number", "priority", "state", "impact", "urgency", "title", "created_at", "updated_at"]

    @property
    def action_permissions(self):
        write = "view" if self.request.method in SAFE_METHODS else "change"
        return {
            "transition": "change",
            "comments": write,
            "timeline": "view",
            "attachments": write,
            "attachment_download": "view",
            "promote": "change",
            "children": write,
            "unlink_child": "change",
            "major_update": "change",
            "resolve_children": "change",
            "bulk": "change",
        }

    def get_queryset(self):
        if self.request.method in SAFE_METHODS and self.action in ("list", "retrieve"):
            return selectors.incident_queryset()
        return Incident.objects.all()  # writes lock the row; actions read what they need

    def list(self, request, *args, **kwargs):
        incidents = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(incidents)
        data = self.get_serializer(selectors.attach_related(page if page is not None else incidents), many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def retrieve(self, request, *args, **kwargs):
        incident = self.get_object()
        selectors.attach_related([incident])
        return self._with_etag(Response(self.get_serializer(incident).data), incident)

    def _answer(self, incident, code=status.HTTP_200_OK):
        fresh = selectors.attach_related([selectors.incident_queryset().get(pk=incident.pk)])[0]
        response = Response(self.get_serializer(fresh).data, status=code)
        return self._with_etag(response, fresh)

    def destroy(self, request, *args, **kwargs):
        raise MethodNotAllowed(
            "DELETE", detail="Incidents are not deleted: cancel one with POST …/transition/ {'state': 'canceled'}."
        )

    # --- create and update through the services --------------------------------------------------

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        incident = services.create_incident(user=request.user, source=data.pop("source", "api"), **data)
        return self._answer(incident, status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        serializer.instance = self._written = services.update_incident(
            serializer.instance, user=self.request.user, **serializer.validated_data
        )

    # --- actions ---------------------------------------------------------------------------------

    @extend_schema(
        request=TransitionSerializer,
        responses={
            200: IncidentSerializer,
            400: OpenApiResponse(description="Unknown state, or a detail the move needs is missing."),
            409: OpenApiResponse(
                description="The move is not allowed from the current state: `allowed` lists where it may go."
            ),
        },
        summary="Change the incident's state",
        description="`on_hold` needs `hold_reason`; `resolved` needs `resolution_code` and `note` (the "
        "resolution notes); `in_progress` from `resolved` reopens it.",
    )
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        params = TransitionSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        incident = services.transition(self.get_object(), user=request.user, **params.validated_data)
        return self._answer(incident)

    def _timeline_page(self, incident, kinds=None, public_only=False):
        entries = selectors.timeline(incident, kinds=kinds, public_only=public_only)
        page = self.paginate_queryset(entries)
        data = TimelineEntrySerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    @extend_schema(
        methods=["GET"],
        responses=TimelineEntrySerializer(many=True),
        summary="Comments and work notes, oldest first",
    )
    @extend_schema(
        methods=["POST"],
        request=CommentSerializer,
        responses={201: TimelineEntrySerializer},
        summary="Add a comment (public) or a work note (`public: false`)",
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def comments(self, request, pk=None):
        if request.method == "GET":
            return self._timeline_page(self.get_object(), kinds=COMMENT_KINDS)
        params = CommentSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        entry = services.add_comment(self.get_object(), user=request.user, **params.validated_data)
        return Response(
            TimelineEntrySerializer(entry, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, many=True, description=f"Only these kinds: {', '.join(TimelineKind.values)}"),
            OpenApiParameter("public", bool, description="true: only what the caller sees"),
        ],
        responses=TimelineEntrySerializer(many=True),
        summary="The whole timeline, oldest first",
        description="Comments, work notes, state changes, assignments, priority changes, attachments, "
        "SLA events, major-incident updates and links.",
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def timeline(self, request, pk=None):
        kinds = kinds_param(request.query_params, TimelineKind)
        public_only = request.query_params.get("public", "").lower() in ("1", "true", "yes")
        return self._timeline_page(self.get_object(), kinds=kinds or None, public_only=public_only)

    @extend_schema(methods=["GET"], responses=AttachmentSerializer(many=True), summary="The incident's attachments")
    @extend_schema(
        methods=["POST"],
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer},
        summary="Attach a file (multipart `file`)",
        description="The size and type limits are the `ATTACHMENT_MAX_MB` and `ATTACHMENT_CONTENT_TYPES` settings.",
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[], parser_classes=[MultiPartParser, FormParser])
    def attachments(self, request, pk=None):
        incident = self.get_object()
        context = self.get_serializer_context()
        if request.method == "GET":
            page = self.paginate_queryset(incident.attachments.order_by("created_at", "id"))
            return self.get_paginated_response(AttachmentSerializer(page, many=True, context=context).data)
        params = AttachmentUploadSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        attachment = services.add_attachment(incident, user=request.user, uploaded_file=params.validated_data["file"])
        return Response(AttachmentSerializer(attachment, context=context).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): bytes}, summary="Download an attachment")
    @action(
        detail=True,
        methods=["get"],
        url_path=r"attachments/(?P<attachment_pk>\d+)",
        url_name="attachment-download",
        filter_backends=[],
    )
    def attachment_download(self, request, pk=None, attachment_pk=None):
        incident = self.get_object()
        attachment = Attachment.objects.filter(pk=attachment_pk, incident=incident).first()
        if attachment is None:
            raise Http404("No such attachment on this incident.")
        return attachment_response(attachment)

    @extend_schema(request=None, responses={200: IncidentSerializer}, summary="Promote to major incident")
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        return self._answer(services.promote_major(self.get_object(), user=request.user))

    @extend_schema(
        methods=["GET"], responses=BriefIncidentSerializer(many=True), summary="The major incident's children"
    )
    @extend_schema(
        methods=["POST"],
        request=LinkChildSerializer,
        responses={201: BriefIncidentSerializer},
        summary="Link a child incident (id or number)",
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def children(self, request, pk=None):
        parent = self.get_object()
        if request.method == "GET":
            children = parent.children.order_by("-created_at", "-id")
            page = self.paginate_queryset(children)
            return self.get_paginated_response(BriefIncidentSerializer(page, many=True).data)
        params = LinkChildSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        child = services.link_child(parent, params.validated_data["incident"], user=request.user)
        return Response(BriefIncidentSerializer(child).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None}, summary="Unlink a child incident")
    @action(detail=True, methods=["delete"], url_path=r"children/(?P<child_pk>\d+)", url_name="unlink-child")
    def unlink_child(self, request, pk=None, child_pk=None):
        parent = self.get_object()
        child = Incident.objects.filter(pk=child_pk, parent=parent).first()
        if child is None:
            raise Http404(f"Incident {child_pk} is not a child of {parent.number}.")
        services.unlink_child(child, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=MajorUpdateSerializer,
        responses={201: TimelineEntrySerializer},
        summary="Post an update on a major incident",
        description="The update is copied to every child's timeline.",
    )
    @action(detail=True, methods=["post"], url_path="major-update", url_name="major-update")
    def major_update(self, request, pk=None):
        params = MajorUpdateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        entry = services.post_major_update(self.get_object(), user=request.user, body=params.validated_data["body"])
        return Response(
            TimelineEntrySerializer(entry, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        request=ResolveChildrenSerializer,
        responses={200: ResolvedChildrenSerializer},
        summary="Resolve every child of a major incident that may be resolved",
    )
    @action(detail=True, methods=["post"], url_path="resolve-children", url_name="resolve-children")
    def resolve_children(self, request, pk=None):
        params = ResolveChildrenSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        resolved = services.resolve_children(self.get_object(), user=request.user, **params.validated_data)
        return Response({"resolved": resolved})

    @extend_schema(
        request=BulkSerializer,
        responses={200: BulkResultSerializer},
        summary="Assign or move many incidents at once",
        description="Each incident is changed on its own: those the request can't apply to (a state that "
        "does not allow the move …) are listed in `errors` with the reason, the others in `done`. A request "
        "that can apply to none (an assignee outside the team, a missing resolution note …) is a 400.",
    )
    @action(detail=False, methods=["post"], filter_backends=[])
    def bulk(self, request):
        params = BulkSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        if data["action"] == "assign":
            result = services.bulk_assign(
                data["ids"], user=request.user, team=data.get("assignment_team"), assignee=data.get("assignee")
            )
        else:
            result = services.bulk_transition(
                data["ids"],
                data["state"],
                user=request.user,
                note=data["note"],
                hold_reason=data["hold_reason"],
                resolution_code=data["resolution_code"],
            )
        return Response({"done": result.done, "errors": {str(pk): message for pk, message in result.errors.items()}})


def attachment_response(attachment):
    """The stored file as a download (never rendered inline: ``nosniff``, ``attachment``)."""
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404("The file is no longer stored.") from None
    response = FileResponse(handle, as_attachment=True, filename=attachment.name, content_type=attachment.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


class CategoryViewSet(PortalModelViewSet):
    """Incident and problem categories. A category in use can't be deleted (409): retire it
    (``active: false``) instead."""

    queryset = Category.objects.all()
    serializer_class = CategorySerializer
    filterset_class = CategoryFilterSet
    ordering_fields = ["name", "created_at", "updated_at"]


class PriorityMatrixViewSet(PortalReadOnlyViewSet):
    """The priority matrix: impact × urgency → priority. Managers edit it in the admin console."""

    queryset = PriorityRule.objects.all()
    serializer_class = PriorityRuleSerializer
    filterset_class = PriorityRuleFilterSet
    ordering_fields = ["impact", "urgency", "priority"]
