"""Load the two rubrics shipped with dhnet (GDHM classic and current, ``maturity/data/rubric_*.json``).

Codes and names are GDHM's; questions and phase definitions are the project's own words (``maturity/data/README.md``).
A rubric whose code exists already is left alone, so the migration never overwrites imported official texts.
"""

from types import SimpleNamespace

from django.db import migrations


def _models(apps):
    return SimpleNamespace(
        Rubric=apps.get_model("maturity", "Rubric"),
        Component=apps.get_model("maturity", "Component"),
        Indicator=apps.get_model("maturity", "Indicator"),
        PhaseDefinition=apps.get_model("maturity", "PhaseDefinition"),
    )


def forwards(apps, schema_editor):
    from dhnet.maturity import rubrics

    models = _models(apps)
    for name in rubrics.PACKAGED:
        data = rubrics.packaged(name)
        if not models.Rubric.objects.filter(code=data["code"]).exists():
            rubrics.write_rubric(data, models, official=bool(data["official_texts"]))


def backwards(apps, schema_editor):
    from dhnet.maturity import rubrics

    models = _models(apps)
    codes = [code for code, _ in rubrics.PACKAGED.values()]
    models.PhaseDefinition.objects.filter(indicator__rubric__code__in=codes).delete()
    models.Indicator.objects.filter(rubric__code__in=codes, parent__isnull=False).delete()
    models.Indicator.objects.filter(rubric__code__in=codes).delete()
    models.Component.objects.filter(rubric__code__in=codes).delete()
    models.Rubric.objects.filter(code__in=codes).delete()


class Migration(migrations.Migration):
    dependencies = [("maturity", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
