"""The zone every check starts in: ``default``, polled from the queue ``poll.default``."""

from django.db import migrations


def create_default_zone(apps, schema_editor):
    Zone = apps.get_model("monitoring", "Zone")
    Zone.objects.get_or_create(name="default", defaults={"description": "Polled by the portal's own workers."})


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0001_initial")]

    operations = [migrations.RunPython(create_default_zone, migrations.RunPython.noop)]
