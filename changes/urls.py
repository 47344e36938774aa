"""The change pages."""

app_name = "changes"
urlpatterns = []
