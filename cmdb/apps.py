from django.apps import AppConfig


class CmdbConfig(AppConfig):
    name = "cmdb"
    verbose_name = "CMDB"

    def ready(self):
        from itom import navigation

        navigation.register(navigation.MenuItem("CMDB", "cmdb:ci_list", permission="cmdb.view_ci", section="/cmdb/"))
