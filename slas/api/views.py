"""The SLA resources: business calendars (with their hours and holidays, and the public-holiday
pre-fill) and SLA policies (with their targets). Reading is open to every role; writing is the
managers' (``slas.*`` permissions). Thin viewsets: every write goes through ``slas.services``."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from itom.api.viewsets import PortalModelViewSet
from slas import services
from slas.api.serializers import (
    CalendarSerializer,
    HolidaySerializer,
    PolicySerializer,
    PrefillHolidaysSerializer,
    PrefillResultSerializer,
)
from slas.filters import CalendarFilterSet, PolicyFilterSet
from slas.models import BusinessCalendar, SLAPolicy


def _assign(instance, data):
    for name, value in data.items():
        setattr(instance, name, value)
    return instance


class CalendarViewSet(PortalModelViewSet):
    """Business calendars. ``POST …/{id}/prefill-holidays/ {"country": "FR", "year": 2026}`` adds
    a country's public holidays (``subdivision``: a region, e.g. ``CA`` for California)."""

    queryset = BusinessCalendar.objects.prefetch_related("hours", "holidays")
    serializer_class = CalendarSerializer
    filterset_class = CalendarFilterSet
    ordering_fields = ["name", "time_zone", "created_at", "updated_at"]
    action_permissions = {"prefill_holidays": "change"}

    def _save(self, instance, data):
        hours, holidays = data.pop("hours", None), data.pop("holidays", None)
        return services.save_calendar(_assign(instance, data), hours=hours, holidays=holidays)

    def perform_create(self, serializer):
        serializer.instance = self._save(BusinessCalendar(), dict(serializer.validated_data))

    def perform_update(self, serializer):
        serializer.instance = self._written = self._save(serializer.instance, dict(serializer.validated_data))

    def perform_destroy(self, instance):
        services.delete_calendar(instance)

    @extend_schema(
        request=PrefillHolidaysSerializer,
        responses={201: PrefillResultSerializer},
        summary="Add a country's public holidays for a year",
        description="From the `holidays` package. Dates the calendar already has are kept as they are.",
    )
    @action(detail=True, methods=["post"], url_path="prefill-holidays", filter_backends=[])
    def prefill_holidays(self, request, pk=None):
        params = PrefillHolidaysSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        calendar = self.get_object()
        created, skipped = services.prefill_holidays(
            calendar,
            params.validated_data["country"],
            params.validated_data["year"],
            params.validated_data.get("subdivision") or "",
        )
        body = {"created": HolidaySerializer(created, many=True).data, "skipped": skipped}
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class PolicyViewSet(PortalModelViewSet):
    """SLA policies. The active policy with the lowest ``order`` whose criteria all match an
    incident (and that has a target at its priority) times it."""

    queryset = SLAPolicy.objects.select_related("calendar").prefetch_related(
        "targets", "teams", "ci_classes", "business_services"
    )
    serializer_class = PolicySerializer
    filterset_class = PolicyFilterSet
    ordering_fields = ["order", "name", "created_at", "updated_at"]

    def _save(self, instance, data):
        targets = data.pop("targets", None)
        teams = data.pop("teams", None)
        ci_classes = data.pop("ci_classes", None)
        business_services = data.pop("business_services", None)
        return services.save_policy(
            _assign(instance, data),
            targets=targets,
            teams=teams,
            ci_classes=ci_classes,
            business_services=business_services,
        )

    def perform_create(self, serializer):
        serializer.instance = self._save(SLAPolicy(), dict(serializer.validated_data))

    def perform_update(self, serializer):
        serializer.instance = self._written = self._save(serializer.instance, dict(serializer.validated_data))

    def perform_destroy(self, instance):
        services.delete_policy(instance)
