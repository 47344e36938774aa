"""The CMDB in the admin console (managers). Writes go through ``cmdb.services`` like everywhere
else; the forms have already run the models' validation by then."""

from django.contrib import admin
from django.db.models import Count

from cmdb import services
from cmdb.forms.catalogue import AttributeDefinitionForm, BaseAttributeFormSet
from cmdb.models import CI, AttributeDefinition, CIClass, Relationship, RelationshipType, Tag


class AdminAttributeFormSet(BaseAttributeFormSet):
    styled = False


class AttributeDefinitionInline(admin.TabularInline):
    """The class's own schema (choices as comma-separated text); the formset also refuses names
    the class inherits or passes on to its subclasses."""

    model = AttributeDefinition
    form = AttributeDefinitionForm
    formset = AdminAttributeFormSet
    fields = ["name", "label", "type", "required", "choices", "help_text", "order"]
    extra = 0


@admin.register(CIClass)
class CIClassAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "parent", "is_business_service", "ci_count"]
    list_filter = ["is_business_service", "parent"]
    list_select_related = ["parent"]
    search_fields = ["name", "slug", "description"]
    ordering = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["parent"]
    inlines = [AttributeDefinitionInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_ci_count=Count("cis"))

    @admin.display(ordering="_ci_count", description="CIs")
    def ci_count(self, ci_class):
        return ci_class._ci_count

    def save_model(self, request, obj, form, change):
        """Saved with its attributes in ``save_related``: one ``save_class`` call, one transaction."""

    def save_related(self, request, form, formsets, change):
        attributes = None
        for formset in formsets:
            if formset.model is AttributeDefinition:
                formset.save(commit=False)  # sorts the rows into new, changed and deleted (the change message)
                attributes = formset.attributes()
        services.save_class(form.instance, attributes=attributes)
        for formset in formsets:
            if formset.model is not AttributeDefinition:
                self.save_formset(request, form, formset, change)

    def delete_model(self, request, obj):
        services.delete_class(obj)


@admin.register(CI)
class CIAdmin(admin.ModelAdmin):
    list_display = ["name", "ci_class", "status", "environment", "criticality", "owner_team"]
    list_filter = ["status", "environment", "criticality", "ci_class", "owner_team"]
    list_select_related = ["ci_class", "owner_team"]
    search_fields = ["name", "fqdn", "serial_number", "asset_tag", "external_id"]
    autocomplete_fields = ["ci_class", "owner_team", "tags"]
    fieldsets = [
        (None, {"fields": ["name", "ci_class", "status", "environment", "criticality", "owner_team", "tags"]}),
        ("Location and network", {"fields": ["location", "fqdn", "ip_addresses"]}),
        (
            "Asset",
            {
                "fields": [
                    *CI.ASSET_FIELDS,
                ]
            },
        ),
        (None, {"fields": ["attributes", "external_id", "description"]}),
    ]

    def save_model(self, request, obj, form, change):
        services.save_ci(obj)  # the tags follow with the form's many-to-many data

    def delete_model(self, request, obj):
        services.delete_ci(obj)

    def delete_queryset(self, request, queryset):
        for ci in queryset:
            services.delete_ci(ci)


@admin.register(RelationshipType)
class RelationshipTypeAdmin(admin.ModelAdmin):
    list_display = ["forward_label", "reverse_label", "slug", "propagates_failure", "relationship_count"]
    list_filter = ["propagates_failure"]
    search_fields = ["slug", "forward_label", "reverse_label"]
    ordering = ["forward_label"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_relationship_count=Count("relationships"))

    @admin.display(ordering="_relationship_count", description="Relationships")
    def relationship_count(self, relationship_type):
        return relationship_type._relationship_count

    def save_model(self, request, obj, form, change):
        services.save_relationship_type(obj)

    def delete_model(self, request, obj):
        services.delete_relationship_type(obj)


@admin.register(Relationship)
class RelationshipAdmin(admin.ModelAdmin):
    list_display = ["source", "type", "target", "description"]
    list_filter = ["type"]
    list_select_related = ["source", "type", "target"]
    search_fields = ["source__name", "target__name", "description"]
    autocomplete_fields = ["source", "target"]

    def save_model(self, request, obj, form, change):
        services.save_relationship(obj)

    def delete_model(self, request, obj):
        services.unrelate(obj)

    def delete_queryset(self, request, queryset):
        for relationship in queryset.select_related("source", "type", "target"):
            services.unrelate(relationship)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "ci_count"]
    search_fields = ["name", "description"]
    ordering = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_ci_count=Count("cis"))

    @admin.display(ordering="_ci_count", description="CIs")
    def ci_count(self, tag):
        return tag._ci_count

    def save_model(self, request, obj, form, change):
        services.save_tag(obj)

    def delete_model(self, request, obj):
        services.delete_tag(obj)
