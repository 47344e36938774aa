from django.urls import include, path

app_name = "incidents"

urlpatterns = [
    path("incidents/", include("incidents.urls.incidents")),
    path("problems/", include("incidents.urls.problems")),
]
