"""The incident pages (``incidents.views.incidents``): the queue with its bulk actions, add/edit,
the detail page with its actions, timeline, SLA and History tabs, and the small htmx views the
form uses."""

from django.urls import path

from incidents.views import incidents as views
from incidents.views.attachments import attachment_download

urlpatterns = [
    # The queue and its bulk bar
    path("", views.IncidentListView.as_view(), name="incident_list"),
    path("bulk/", views.IncidentBulkView.as_view(), name="incident_bulk"),
    # Add / edit, and what the form asks for as impact, urgency, team and CIs change
    path("add/", views.IncidentEditView.as_view(), name="incident_add"),
    path("priority/", views.PriorityPreviewView.as_view(), name="incident_priority"),
    path("assignees/", views.AssigneeOptionsView.as_view(), name="incident_assignees"),
    # One incident: its tabs
    path("<int:pk>/", views.IncidentDetailView.as_view(), name="incident_detail"),
    path("<int:pk>/edit/", views.IncidentEditView.as_view(), name="incident_edit"),
    path("<int:pk>/sla/", views.IncidentSLAView.as_view(), name="incident_sla"),
    path("<int:pk>/history/", views.IncidentHistoryView.as_view(), name="incident_history"),
    # One incident: its actions (POST)
    path("<int:pk>/assign-to-me/", views.AssignToMeView.as_view(), name="incident_assign_me"),
    path("<int:pk>/assign/", views.AssignView.as_view(), name="incident_assign"),
    path("<int:pk>/transition/", views.TransitionView.as_view(), name="incident_transition"),
    path("<int:pk>/comment/", views.CommentView.as_view(), name="incident_comment"),
    path("<int:pk>/promote/", views.PromoteView.as_view(), name="incident_promote"),
    path("<int:pk>/parent/", views.LinkParentView.as_view(), name="incident_link_parent"),
    path("<int:pk>/children/add/", views.LinkChildView.as_view(), name="incident_link_child"),
    path("<int:pk>/children/<int:child_pk>/unlink/", views.UnlinkChildView.as_view(), name="incident_unlink_child"),
    path("<int:pk>/major-update/", views.MajorUpdateView.as_view(), name="incident_major_update"),
    path("<int:pk>/resolve-children/", views.ResolveChildrenView.as_view(), name="incident_resolve_children"),
    # Attachments (incidents.views.attachments)
    path("attachments/<int:pk>/", attachment_download, name="attachment_download"),
]
