from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import NoReverseMatch
from rest_framework import serializers

from itom.api.exceptions import django_errors_to_drf


def web_url(obj):
    """The object's page in the portal, or "" when the pages are not installed (an API-only
    deployment): what a serializer's ``web_url`` answers."""
    try:
        return obj.get_absolute_url()
    except NoReverseMatch:
        return ""


class ValidatedModelSerializer(serializers.ModelSerializer):
    """Runs the model's own validation (``full_clean``: field checks, ``clean()``, uniqueness)
    on every write, so the API enforces exactly what forms and the admin enforce."""

    display = serializers.SerializerMethodField(help_text="The object's human-readable name.")

    def get_display(self, obj) -> str:
        return str(obj)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        opts = self.Meta.model._meta
        m2m = {f.name for f in opts.many_to_many}
        instance = self.instance or self.Meta.model()
        if self.instance is not None:
            # Validate a copy, so a rejected write leaves the loaded instance untouched.
            instance = self.Meta.model._base_manager.get(pk=self.instance.pk)
        for name, value in attrs.items():
            if name not in m2m:
                setattr(instance, name, value)
        try:
            instance.full_clean(exclude=list(m2m))
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from exc
        return attrs


class ObjectChangeSerializer(serializers.ModelSerializer):
    object_type = serializers.SerializerMethodField()

    class Meta:
        from itom.models import ObjectChange

        model = ObjectChange
        fields = [
            "id",
            "time",
            "user",
            "user_name",
            "request_id",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "prechange_data",
            "postchange_data",
        ]

    def get_object_type(self, change) -> str:
        return f"{change.content_type.app_label}.{change.content_type.model}"
