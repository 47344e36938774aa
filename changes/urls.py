"""The change pages, under ``/changes/``: the list, new / edit, a change's tabs and actions, the
calendar and its feed, the CAB page, the standard-change templates and the blackout windows."""

from django.urls import include, path

from changes.views import blackouts, calendar, catalogue, detail
from changes.views import changes as views

app_name = "changes"

change_patterns = [
    path("", views.ChangeListView.as_view(), name="change_list"),
    path("new/", views.ChangeEditView.as_view(), name="change_add"),
    # One change: its tabs
    path("<int:pk>/", detail.ChangeDetailView.as_view(), name="change_detail"),
    path("<int:pk>/edit/", views.ChangeEditView.as_view(), name="change_edit"),
    path("<int:pk>/risk/", views.ChangeRiskView.as_view(), name="change_risk"),
    path("<int:pk>/history/", views.ChangeHistoryView.as_view(), name="change_history"),
    # One change: its actions (POST)
    path("<int:pk>/transition/", detail.TransitionView.as_view(), name="change_transition"),
    path("<int:pk>/approve/", detail.DecideView.as_view(), name="change_decide"),
    path("<int:pk>/notes/", detail.NoteView.as_view(), name="change_note"),
    path("<int:pk>/override-risk/", detail.OverrideRiskView.as_view(), name="change_override_risk"),
    path("<int:pk>/incidents/link/", detail.LinkIncidentView.as_view(), name="change_link_incident"),
    path(
        "<int:pk>/incidents/<int:incident_pk>/unlink/",
        detail.UnlinkIncidentView.as_view(),
        name="change_unlink_incident",
    ),
]

calendar_patterns = [
    path("", calendar.ChangeCalendarView.as_view(), name="calendar"),
    path("feed/regenerate/", calendar.RegenerateFeedView.as_view(), name="calendar_feed_regenerate"),
    path("feed/<str:token>.ics", calendar.CalendarFeedView.as_view(), name="calendar_feed"),
]

template_patterns = [
    path("", catalogue.TemplateListView.as_view(), name="template_list"),
    path("new/", catalogue.TemplateEditView.as_view(), name="template_add"),
    path("<int:pk>/", catalogue.TemplateDetailView.as_view(), name="template_detail"),
    path("<int:pk>/edit/", catalogue.TemplateEditView.as_view(), name="template_edit"),
    path("<int:pk>/history/", catalogue.TemplateHistoryView.as_view(), name="template_history"),
    path("<int:pk>/approve/", catalogue.TemplateApproveView.as_view(), name="template_approve"),
    path("<int:pk>/revise/", catalogue.TemplateReviseView.as_view(), name="template_revise"),
    path("<int:pk>/retire/", catalogue.TemplateRetireView.as_view(), name="template_retire"),
]

blackout_patterns = [
    path("", blackouts.BlackoutListView.as_view(), name="blackout_list"),
    path("new/", blackouts.BlackoutEditView.as_view(), name="blackout_add"),
    path("<int:pk>/", blackouts.BlackoutDetailView.as_view(), name="blackout_detail"),
    path("<int:pk>/edit/", blackouts.BlackoutEditView.as_view(), name="blackout_edit"),
    path("<int:pk>/delete/", blackouts.BlackoutDeleteView.as_view(), name="blackout_delete"),
    path("<int:pk>/history/", blackouts.BlackoutHistoryView.as_view(), name="blackout_history"),
]

urlpatterns = [
    path(
        "changes/",
        include(
            [
                path("calendar/", include(calendar_patterns)),
                path("cab/", calendar.CABView.as_view(), name="cab"),
                path("templates/", include(template_patterns)),
                path("blackouts/", include(blackout_patterns)),
                *change_patterns,
            ]
        ),
    ),
]
