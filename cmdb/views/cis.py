from cmdb.filters import CIFilterSet
from cmdb.models import CI
from itom.generic import Column, ObjectListView


class CIListView(ObjectListView):
    model = CI
    queryset = CI.objects.select_related("ci_class", "owner_team")
    filterset_class = CIFilterSet
    columns = [
        Column("name", link=True),
        Column("ci_class", sort="ci_class__name"),
        Column("status"),
        Column("environment"),
        Column("criticality"),
        Column("owner_team", sort="owner_team__name"),
        Column("fqdn"),
    ]
