from django.urls import path

from cmdb.views import imports

urlpatterns = [
    path("import/", imports.import_page, name="import"),
    path("import/template.csv", imports.import_template, name="import_template"),
    path("import/export.csv", imports.import_export, name="import_export"),
]
