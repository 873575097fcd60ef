"""The ``dhnet`` command line.

Sub-commands are registered from their bounded context's module.  Those modules are imported only when their
command runs (:class:`LazyGroup`: a table of command name -> module and short help), and heavy imports happen
inside the commands, so that ``dhnet --help`` and ``dhnet detect`` start fast (no Django for ``detect``).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import click

from dhnet import __version__

# The engine batches small systems itself; OpenBLAS's worker threads only spin (measured: a third of the CPU time of
# `dhnet detect` on the influenza data, for the same wall time). One BLAS thread unless the user says otherwise.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

#: Command name -> (module whose import registers it on :data:`main`, short help for ``dhnet --help``, whether
#: the help is shortened to the terminal width: click does so unless a command declares ``short_help``).
#: A test checks that every module registers its commands and that the help strings are the commands' own.
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "atlas": ("dhnet.atlas.cli", "The digital health atlas: import, export, generate registries.", True),
    "audit": ("dhnet.cli.platform", "The audit trail.", True),
    "createuser": (
        "dhnet.cli.platform",
        "Create user NAME (or reuse it) and assign ROLE at ORGUNIT and everything below it.",
        True,
    ),
    "demo": (
        "dhnet.cli.demo",
        "Migrate, load the demo country from the real data in data/surveillance/, create one user per role and run "
        "detection.",
        True,
    ),
    "detect": ("dhnet.cli.detect", "Detect aberrations in every series of a CSV or Parquet file.", False),
    "detect-all": (
        "dhnet.cli.signals",
        "Run every active alert rule on every disease, org unit and level now (a job of the queue, run here).",
        True,
    ),
    "evaluate": (
        "dhnet.cli.detect",
        "Sensitivity, specificity, POD, FPR and delay of alarms (R's algo.quality).",
        False,
    ),
    "import": ("dhnet.cli.reporting", "Import aggregate counts (CSV or DHIS2 JSON) into the database.", True),
    "jobs": ("dhnet.cli.signals", "The background job queue.", True),
    "knowledge": ("dhnet.cli.knowledge", "The knowledge repository: ingest documents, search them.", True),
    "maturity": ("dhnet.maturity.cli", "Digital health maturity: GDHM scoring, rubric import and export.", True),
    "migrate": ("dhnet.cli.platform", "Create or upgrade the database schema (the identity vault's too).", True),
    "needs": ("dhnet.needs.cli", "Country needs linked to solutions: ranked, explained matches.", True),
    "notify": (
        "dhnet.cli.notifications",
        "Notifications: daily digest, missing-report reminders, due deliveries.",
        True,
    ),
    "orgunits": ("dhnet.cli.platform", "The org-unit hierarchy.", True),
    "serve": (
        "dhnet.cli.platform",
        "Serve the web platform and API with waitress (production-capable; put TLS in front).",
        True,
    ),
    "simulate": (
        "dhnet.cli.detect",
        "Simulated series with outbreaks (Noufaily et al. 2013); FPR/POD of methods.",
        False,
    ),
    "taxonomy": ("dhnet.taxonomy.cli", "Classifications: list the schemes or a scheme's concepts.", True),
    "token": ("dhnet.cli.platform", "API tokens for systems.", True),
    "totp-code": (
        "dhnet.cli.demo",
        "Print the current TOTP code of USERNAME (operator only: reads the secret from the database).",
        True,
    ),
    "vault": ("dhnet.identity.cli", "The identity vault: status, key rotation, retention purge.", True),
    "worker": (
        "dhnet.cli.signals",
        "Run background jobs (detection after imports, schedules, notifications) until stopped (Ctrl-C / SIGTERM).",
        True,
    ),
}


def _shorten(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters as click shortens a command's help for ``--help``."""
    if len(text) <= limit:
        return text
    if limit < 3:
        return "..."
    import textwrap

    return textwrap.shorten(text, limit, placeholder="...", break_on_hyphens=False)


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use (from :data:`COMMANDS`).

    ``dhnet --help`` lists the commands with the short help of the table without importing them.
    """

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str, bool]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            importlib.import_module(self.lazy[cmd_name][0])  # its decorators register it on this group
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        rows: list[tuple[str, str]] = []
        limit = formatter.width - 6 - max((len(n) for n in names), default=0)
        for name in names:
            if name in self.commands:
                cmd = self.commands[name]
                if cmd.hidden:
                    continue
                rows.append((name, cmd.get_short_help_str(limit)))
            else:
                _, text, shorten = self.lazy[name]
                rows.append((name, _shorten(text, limit) if shorten else text))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dhnet")
def main() -> None:
    """dhnet: disease surveillance with early warning, trusted health-data exchange, and the network of networks."""
