"""Seed the ITIL priority matrix (impact × urgency → priority); managers edit it afterwards."""

from django.db import migrations

from incidents.choices import DEFAULT_PRIORITY_MATRIX


def seed(apps, schema_editor):
    PriorityRule = apps.get_model("incidents", "PriorityRule")
    for (impact, urgency), priority in DEFAULT_PRIORITY_MATRIX.items():
        PriorityRule.objects.get_or_create(impact=impact, urgency=urgency, defaults={"priority": priority})


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
