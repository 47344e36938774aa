"""The problem and known-error pages, under ``/problems/``."""

from django.urls import include, path

from incidents.views import problems as views

problem_patterns = [
    path("", views.ProblemListView.as_view(), name="problem_list"),
    path("add/", views.ProblemEditView.as_view(), name="problem_add"),
    path("from-incidents/", views.ProblemFromIncidentsView.as_view(), name="problem_from_incidents"),
    path("<int:pk>/", views.ProblemDetailView.as_view(), name="problem_detail"),
    path("<int:pk>/edit/", views.ProblemEditView.as_view(), name="problem_edit"),
    path("<int:pk>/delete/", views.ProblemDeleteView.as_view(), name="problem_delete"),
    path("<int:pk>/history/", views.ProblemHistoryView.as_view(), name="problem_history"),
    path("<int:pk>/transition/", views.ProblemTransitionView.as_view(), name="problem_transition"),
    path("<int:pk>/workaround/", views.ProblemWorkaroundView.as_view(), name="problem_workaround"),
    path("<int:pk>/incidents/link/", views.ProblemLinkIncidentsView.as_view(), name="problem_link_incidents"),
    path(
        "<int:pk>/incidents/<int:incident_pk>/unlink/",
        views.ProblemUnlinkIncidentView.as_view(),
        name="problem_unlink_incident",
    ),
    path("<int:pk>/known-error/", views.ProblemKnownErrorView.as_view(), name="problem_known_error"),
    path("<int:pk>/notes/", views.ProblemNoteView.as_view(), name="problem_note"),
]

known_error_patterns = [
    path("", views.KnownErrorListView.as_view(), name="known_error_list"),
    path("add/", views.KnownErrorEditView.as_view(), name="known_error_add"),
    path("<int:pk>/", views.KnownErrorDetailView.as_view(), name="known_error_detail"),
    path("<int:pk>/edit/", views.KnownErrorEditView.as_view(), name="known_error_edit"),
    path("<int:pk>/delete/", views.KnownErrorDeleteView.as_view(), name="known_error_delete"),
    path("<int:pk>/history/", views.KnownErrorHistoryView.as_view(), name="known_error_history"),
]

urlpatterns = [
    path("known-errors/", include(known_error_patterns)),
    path("", include(problem_patterns)),
]
