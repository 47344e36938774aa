from django.urls import include, path

app_name = "cmdb"

urlpatterns = [
    path("cmdb/", include("cmdb.urls.cis")),
    path("cmdb/", include("cmdb.urls.catalogue")),
    path("cmdb/", include("cmdb.urls.imports")),
]
