"""Load the strategy's objectives, outputs and proposed actions from ``data/strategy.json``."""

from typing import Any

from django.db import migrations


def load(apps: Any, schema_editor: Any) -> None:
    from dhnet.strategy.framework import load_framework

    load_framework(
        apps.get_model("strategy", "Objective"),
        apps.get_model("strategy", "Output"),
        apps.get_model("strategy", "ProposedAction"),
    )


class Migration(migrations.Migration):
    dependencies = [("strategy", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
