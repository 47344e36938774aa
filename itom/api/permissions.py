from rest_framework.permissions import SAFE_METHODS, DjangoModelPermissions


class RolePermission(DjangoModelPermissions):
    """Role-based access for every endpoint: a signed-in, active user whose roles grant the model
    permission the request needs (``view`` to read; ``add``/``change``/``delete`` to write), and
    whose API token, if one was used, is allowed to write.

    A viewset maps its extra actions to a permission with ``action_permissions``, e.g.
    ``{"transition": "change", "impact": "view"}``.
    """

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if request.method not in SAFE_METHODS and not getattr(request.auth, "write_enabled", True):
            self.message = "This API token is read-only."
            return False
        action = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if action is not None:
            model = self._queryset(view).model
            return user.has_perm(f"{model._meta.app_label}.{action}_{model._meta.model_name}")
        return super().has_permission(request, view)
