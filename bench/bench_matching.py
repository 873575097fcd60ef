"""Benchmark: quality of person matching on a generated test set with realistic errors (fixed seed).

Generates ``--persons`` synthetic persons (names of nine cultures, relatives and twins; duplicate registrations
with typos, phonetic variants, swapped names, birth-date typos, missing fields, other districts: see
``dhnet.identity.synthetic``), registers every record through ``dhnet.identity.services.register_person`` in a
fresh SQLite database (vault encryption, blind indexes, blocking, Fellegi–Sunter scores, review queue, audit) and
prints one Markdown section: pairwise precision and recall of the automatic links, and of links plus the review
queue (as if a reviewer accepted every queued pair), with the thresholds used. Run::

    .venv/bin/python bench/bench_matching.py [--persons 2000] [--seed 20261122] [--per-transaction 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument(
        "--per-transaction", type=int, default=1, help="registrations per commit (1: one FHIR bundle per patient)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-matching-") as tmp:
        os.environ["DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'matching.sqlite3'}"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dhnet.platform.settings")
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        from dhnet.accounts.services import operator_actor
        from dhnet.identity import synthetic
        from dhnet.orgunits.services import create_unit

        call_command("migrate", verbosity=0, skip_checks=True)
        operator = operator_actor("cli:bench")
        create_unit(operator, code="C", name="Country", parent_code=None)
        districts = [f"D{i}" for i in range(1, 9)]
        for code in districts:
            create_unit(operator, code=code, name=f"District {code}", parent_code="C")
        records = synthetic.generate(args.persons, seed=args.seed, districts=districts)
        print(f"bench_matching: registering {len(records)} records…", file=sys.stderr, flush=True)
        out = synthetic.register_all(records, per_transaction=args.per_transaction)
        load = os.getloadavg()[0]
        cfg = settings.CONFIG
    auto, review = out.automatic, out.with_review
    print("## Person matching (identity vault)\n")
    print(
        f"`.venv/bin/python bench/bench_matching.py --persons {args.persons} --seed {args.seed} "
        f"--per-transaction {args.per_transaction}` on "
        f"{platform.machine()} ({os.cpu_count()} cores), SQLite, Python {platform.python_version()}.\n"
    )
    print(
        f"Test set: {out.persons} persons, {out.records} registrations ({out.records - out.persons} duplicates "
        f"with typos, phonetic variants, swapped names, birth-date typos, missing fields, other districts; "
        f"relatives and twins), {auto.true_pairs} true pairs. Thresholds: link ≥ {cfg.match_upper:g}, "
        f"review ≥ {cfg.match_lower:g} (log2 weights).\n"
    )
    print("| | pairs predicted | correct | precision | recall |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| automatic links | {auto.predicted_pairs} | {auto.correct_pairs} | {auto.precision:.4f} | "
        f"{auto.recall:.4f} |"
    )
    print(
        f"| links + review queue ({out.review_pairs} queued) | {review.predicted_pairs} | {review.correct_pairs} | "
        f"{review.precision:.4f} | {review.recall:.4f} |"
    )
    print(
        f"\nRegistration through the vault (validation, blocking, scoring, AES-GCM, audit): {out.seconds:.1f} s, "
        f"{out.records / out.seconds:.0f} registrations/s with {args.per_transaction} per commit "
        f"(load average {load:.1f} at the end).\n"
    )


if __name__ == "__main__":
    main()
