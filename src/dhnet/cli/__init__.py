"""The ``dhnet`` command line.

Sub-commands are registered from their bounded context's module; heavy imports
happen inside the commands so that ``dhnet --help`` stays fast.
"""

from __future__ import annotations

import click

from dhnet import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dhnet")
def main() -> None:
    """dhnet: disease surveillance with early warning, trusted health-data exchange, and the network of networks."""


def _register() -> None:
    from dhnet.cli import demo as _demo  # noqa: F401  (registers demo, totp-code)
    from dhnet.cli import detect as _detect  # noqa: F401  (registers detect, evaluate, simulate)
    from dhnet.cli import notifications as _notifications  # noqa: F401
    from dhnet.cli import platform as _platform  # noqa: F401
    from dhnet.cli import reporting as _reporting  # noqa: F401  (registers import counts, import dhis2)
    from dhnet.cli import signals as _signals  # noqa: F401  (registers detect-all, worker, jobs)


_register()
