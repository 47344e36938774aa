from django.urls import include, path

from cmdb import views

app_name = "cmdb"

ci_patterns = [
    path("", views.CIListView.as_view(), name="ci_list"),
]

urlpatterns = [
    path("cmdb/cis/", include(ci_patterns)),
]
