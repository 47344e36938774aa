from django.urls import path

from cmdb.views import cis

urlpatterns = [
    path("cis/", cis.CIListView.as_view(), name="ci_list"),
]
