"""Import (CSV/JSON upsert), host facts import, CSV export and the Ansible dynamic inventory
(``cmdb.api.integration``). Included before the router, so ``cis/export/`` isn't read as a CI id."""

from django.urls import path

from cmdb.api import integration

urlpatterns = [
    path("import/", integration.CIImportView.as_view(), name="cmdb-import"),
    path("import/facts/", integration.FactsImportView.as_view(), name="cmdb-import-facts"),
    path("cis/export/", integration.CIExportView.as_view(), name="cmdb-ci-export"),
    path("inventory/ansible/", integration.AnsibleInventoryView.as_view(), name="cmdb-inventory-ansible"),
]
