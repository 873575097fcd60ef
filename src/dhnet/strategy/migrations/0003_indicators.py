"""Load the starting set of monitoring indicators from ``data/indicators.json`` (no baselines or targets)."""

from typing import Any

from django.db import migrations


def load(apps: Any, schema_editor: Any) -> None:
    from dhnet.strategy.framework import load_indicators

    load_indicators(
        apps.get_model("strategy", "Objective"),
        apps.get_model("strategy", "Output"),
        apps.get_model("strategy", "Indicator"),
    )


class Migration(migrations.Migration):
    dependencies = [("strategy", "0002_framework")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
