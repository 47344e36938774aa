from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView


class APIRootView(APIView):
    """The API's entry point: links to every resource, the schema and the docs."""

    permission_classes = [IsAuthenticated]
    links = ["audit-list", "team-list", "user-list", "schema", "docs"]

    @extend_schema(exclude=True)
    def get(self, request):
        return Response({name.removesuffix("-list"): reverse(f"api:{name}", request=request) for name in self.links})
