"""dhnet.fhir.warmup: a serving process validates its first Bundle without importing, and freezes its start-up heap."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap


def test_warm_up_imports_the_r4b_models_and_freezes_the_start_up_heap() -> None:
    # A fresh interpreter: this test process has imported the models long ago and must not stay frozen.
    script = textwrap.dedent(
        """
        import gc, os, sys
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dhnet.platform.settings")
        import django
        django.setup()
        before = {m for m in sys.modules if m.startswith("fhir.resources.R4B.")}
        from dhnet.fhir.warmup import warm_up
        seconds = warm_up()
        after = {m for m in sys.modules if m.startswith("fhir.resources.R4B.")}
        needed = {f"fhir.resources.R4B.{t}" for t in ("patient", "condition", "encounter", "observation", "consent")}
        assert needed <= after, needed - after
        assert needed - before, "the models were imported before the warm-up: nothing measured"
        assert "dhnet.fhir.api" in sys.modules and "dhnet.cases.api" in sys.modules  # the URL configuration
        assert gc.get_freeze_count() > 100_000, gc.get_freeze_count()
        print(f"ok {seconds:.2f}")
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok ")


def test_warm_up_without_freezing_leaves_the_collector_alone() -> None:
    from dhnet.fhir.warmup import warm_up

    frozen = gc.get_freeze_count()
    assert warm_up(freeze=False) >= 0
    assert gc.get_freeze_count() == frozen
