from django.urls import include, path

from cmdb.views import catalogue as views


def _object_patterns(prefix, list_view, edit_view, detail_view, delete_view, history_view):
    return [
        path("", list_view.as_view(), name=f"{prefix}_list"),
        path("add/", edit_view.as_view(), name=f"{prefix}_add"),
        path("<int:pk>/", detail_view.as_view(), name=f"{prefix}_detail"),
        path("<int:pk>/edit/", edit_view.as_view(), name=f"{prefix}_edit"),
        path("<int:pk>/delete/", delete_view.as_view(), name=f"{prefix}_delete"),
        path("<int:pk>/history/", history_view.as_view(), name=f"{prefix}_history"),
    ]


urlpatterns = [
    path(
        "classes/",
        include(
            _object_patterns(
                "ciclass",
                views.CIClassListView,
                views.CIClassEditView,
                views.CIClassDetailView,
                views.CIClassDeleteView,
                views.CIClassHistoryView,
            )
        ),
    ),
    path(
        "relationship-types/",
        include(
            _object_patterns(
                "relationshiptype",
                views.RelationshipTypeListView,
                views.RelationshipTypeEditView,
                views.RelationshipTypeDetailView,
                views.RelationshipTypeDeleteView,
                views.RelationshipTypeHistoryView,
            )
        ),
    ),
    path(
        "tags/",
        include(
            _object_patterns(
                "tag",
                views.TagListView,
                views.TagEditView,
                views.TagDetailView,
                views.TagDeleteView,
                views.TagHistoryView,
            )
        ),
    ),
]
