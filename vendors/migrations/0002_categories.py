"""The vendor categories the portal starts with (managers add more in the admin)."""

from django.db import migrations

CATEGORIES = [
    ("Hardware", "hardware"),
    ("Software", "software"),
    ("Cloud", "cloud"),
    ("Telecom", "telecom"),
    ("Services", "services"),
]


def seed(apps, schema_editor):
    VendorCategory = apps.get_model("vendors", "VendorCategory")
    for name, slug in CATEGORIES:
        VendorCategory.objects.get_or_create(slug=slug, defaults={"name": name})


def unseed(apps, schema_editor):
    apps.get_model("vendors", "VendorCategory").objects.filter(
        slug__in=[s for _, s in CATEGORIES], vendors=None
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("vendors", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
