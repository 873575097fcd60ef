"""Load the classifications of ``dhnet/taxonomy/data/`` (idempotent; see dhnet.taxonomy.loader)."""

from django.db import migrations


def forwards(apps, schema_editor):
    from dhnet.taxonomy import loader

    loader.load(apps.get_model("taxonomy", "Scheme"), apps.get_model("taxonomy", "Concept"))


def backwards(apps, schema_editor):
    from dhnet.taxonomy import loader

    codes = [data["scheme"] for data in loader.read_files()]
    apps.get_model("taxonomy", "Scheme").objects.filter(code__in=codes).delete()


class Migration(migrations.Migration):
    dependencies = [("taxonomy", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
