"""Load the WHO AFRO IDSR priority diseases and their default alert rules (see dhnet.diseases.catalogue)."""

from django.db import migrations


def forwards(apps, schema_editor):
    from dhnet.diseases import catalogue

    catalogue.load(apps.get_model("diseases", "Disease"), apps.get_model("diseases", "AlertRule"))


def backwards(apps, schema_editor):
    from dhnet.diseases import catalogue

    catalogue.unload(apps.get_model("diseases", "Disease"))


class Migration(migrations.Migration):
    dependencies = [("diseases", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
