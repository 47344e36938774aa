"""The SLA pages, under ``/sla/``. Each page has a short name (``slas:calendar_list``,
``slas:policy_detail`` …) and the generic views' model name (``slas:businesscalendar_edit``,
``slas:slapolicy_history`` …), which the shared templates reverse."""

from django.urls import include, path

from slas import views

app_name = "slas"


def _object_patterns(short, model_name, list_view, edit_view, detail_view, delete_view, history_view):
    routes = [
        ("", list_view, "list"),
        ("add/", edit_view, "add"),
        ("<int:pk>/", detail_view, "detail"),
        ("<int:pk>/edit/", edit_view, "edit"),
        ("<int:pk>/delete/", delete_view, "delete"),
        ("<int:pk>/history/", history_view, "history"),
    ]
    patterns = []
    for route, view, action in routes:
        patterns.append(path(route, view.as_view(), name=f"{short}_{action}"))
        patterns.append(path(route, view.as_view(), name=f"{model_name}_{action}"))
    return patterns


calendar_patterns = _object_patterns(
    "calendar",
    "businesscalendar",
    views.CalendarListView,
    views.CalendarEditView,
    views.CalendarDetailView,
    views.CalendarDeleteView,
    views.CalendarHistoryView,
) + [
    path("<int:pk>/holidays/add/", views.HolidayAddView.as_view(), name="holiday_add"),
    path("<int:pk>/holidays/prefill/", views.HolidayPrefillView.as_view(), name="holiday_prefill"),
    path("<int:pk>/holidays/<int:holiday_pk>/delete/", views.HolidayDeleteView.as_view(), name="holiday_delete"),
]

policy_patterns = _object_patterns(
    "policy",
    "slapolicy",
    views.PolicyListView,
    views.PolicyEditView,
    views.PolicyDetailView,
    views.PolicyDeleteView,
    views.PolicyHistoryView,
)

urlpatterns = [
    path("sla/calendars/", include(calendar_patterns)),
    path("sla/policies/", include(policy_patterns)),
]
