"""The method table: ``registry.MODULES`` names the module of every built-in method, and asking for one
method imports only that method's module (start-up time of ``dhnet detect``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dhnet.surveillance import methods, registry  # noqa: F401  (methods: every module registered)


def test_modules_table_matches_the_registrations() -> None:
    assert set(registry.MODULES) == set(registry._REGISTRY)
    for name, module in registry.MODULES.items():
        assert registry.get(name).run.__module__ == module, name
    assert registry.names() == sorted(registry.MODULES)


def test_get_imports_only_the_method_module() -> None:
    code = (
        "import sys\n"
        "from dhnet.surveillance import registry\n"
        "names = registry.names()\n"
        "assert 'glrnb' in names and 'dhnet.surveillance.glr' not in sys.modules\n"
        "registry.get('farrington-flexible')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('dhnet.surveillance.'))\n"
        "heavy = [m for m in ('numba', 'pandas', 'dhnet.surveillance.glr', 'dhnet.surveillance.outliers',\n"
        "    'dhnet.surveillance.cusum', 'dhnet.surveillance.ears') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_method_lists_every_name() -> None:
    with pytest.raises(ValueError, match=r"unknown method 'no-such-method'; choose one of: .*glrnb"):
        registry.get("no-such-method")
