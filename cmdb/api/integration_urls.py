"""Import (CSV/JSON upsert), host facts import and the Ansible dynamic inventory."""

urlpatterns = []
