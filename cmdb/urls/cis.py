from django.urls import include, path

from cmdb.views import cis

ci_patterns = [
    path("", cis.CIListView.as_view(), name="ci_list"),
    path("add/", cis.CIEditView.as_view(), name="ci_add"),
    path("search/", cis.CISearchView.as_view(), name="ci_search"),
    path("attribute-fields/", cis.CIAttributeFieldsView.as_view(), name="ci_attribute_fields"),
    path("<int:pk>/", cis.CIDetailView.as_view(), name="ci_detail"),
    path("<int:pk>/edit/", cis.CIEditView.as_view(), name="ci_edit"),
    path("<int:pk>/delete/", cis.CIDeleteView.as_view(), name="ci_delete"),
    path("<int:pk>/history/", cis.CIHistoryView.as_view(), name="ci_history"),
    path("<int:pk>/graph/", cis.CIGraphView.as_view(), name="ci_graph_tab"),
    path("<int:pk>/graph.json", cis.CIGraphDataView.as_view(), name="ci_graph"),
    path("<int:pk>/impact/", cis.CIImpactView.as_view(), name="ci_impact"),
    path("<int:pk>/relationships/add/", cis.RelationshipAddView.as_view(), name="ci_relate"),
    path(
        "<int:pk>/relationships/<int:relationship_pk>/remove/",
        cis.RelationshipRemoveView.as_view(),
        name="ci_unrelate",
    ),
]

urlpatterns = [
    path("cis/", include(ci_patterns)),
]
