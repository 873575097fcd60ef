"""The Mapping model (the crosswalk), the schemes standard, health-area and service-app-2023, and the crosswalk
CDHI v1 -> CDISAH 2023 (idempotent; see dhnet.taxonomy.loader and dhnet.taxonomy.crosswalk)."""

import django.db.models.deletion
from django.db import migrations, models

NEW_SCHEMES = ("standard", "health-area", "service-app-2023")


def forwards(apps, schema_editor):
    from dhnet.taxonomy import loader

    scheme, concept = apps.get_model("taxonomy", "Scheme"), apps.get_model("taxonomy", "Concept")
    loader.load(scheme, concept)
    loader.load_crosswalk(scheme, concept, apps.get_model("taxonomy", "Mapping"))


def backwards(apps, schema_editor):
    apps.get_model("taxonomy", "Scheme").objects.filter(code__in=NEW_SCHEMES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("taxonomy", "0002_load_schemes"),
    ]

    operations = [
        migrations.CreateModel(
            name="Mapping",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "relation",
                    models.CharField(
                        choices=[
                            ("equivalent", "equivalent"),
                            ("broader", "broader"),
                            ("narrower", "narrower"),
                            ("related", "related"),
                        ],
                        max_length=12,
                    ),
                ),
                ("method", models.CharField(blank=True, max_length=100)),
                ("note", models.CharField(blank=True, max_length=300)),
                (
                    "source",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="mappings_out", to="taxonomy.concept"
                    ),
                ),
                (
                    "target",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="mappings_in", to="taxonomy.concept"
                    ),
                ),
            ],
            options={
                "ordering": ("source__ordinal", "target__ordinal"),
                "constraints": [
                    models.UniqueConstraint(fields=("source", "target"), name="taxonomy_mapping_source_target_unique")
                ],
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
