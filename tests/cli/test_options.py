"""The generic mapping of command-line method options onto a control dataclass (dhnet.cli._options)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from dhnet.cli._errors import InputError
from dhnet.cli._options import convert, describe_options, parse_method_options, split_args


@dataclass(frozen=True)
class DemoControl:
    b: int = 5
    alpha: float = 0.05
    trend: bool = True
    flag_or_none: bool | None = None
    threshold_method: Literal["delta", "nbPlugin", "muan"] = "delta"
    limit54: tuple[int, int] = (5, 4)
    weights: tuple[float, ...] = ()
    past_weeks_not_included: int | None = None
    m: float | Literal["glm"] | None = None
    label: str = "x"


def parse(*args: str) -> dict[str, object]:
    return parse_method_options("demo", DemoControl, list(args))


def test_values_by_annotation() -> None:
    got = parse(
        "--b",
        "3",
        "--alpha=1e-3",
        "--no-trend",
        "--threshold-method",
        "nbPlugin",
        "--limit54",
        "0,4",
        "--weights",
        "1.5, 2",
        "--past-weeks-not-included",
        "26",
        "--m",
        "glm",
        "--label",
        "--weird",
    )
    assert got == {
        "b": 3,
        "alpha": 0.001,
        "trend": False,
        "threshold_method": "nbPlugin",
        "limit54": (0, 4),
        "weights": (1.5, 2.0),
        "past_weeks_not_included": 26,
        "m": "glm",
        "label": "--weird",
    }


def test_none_flags_and_case() -> None:
    assert parse("--past-weeks-not-included", "None", "--m", "null") == {"past_weeks_not_included": None, "m": None}
    assert parse("--m", "2.5") == {"m": 2.5}
    assert parse("--trend") == {"trend": True}
    assert parse("--trend=false") == {"trend": False}
    assert parse("--flag-or-none") == {"flag_or_none": True}
    assert parse("--flag-or-none=none") == {"flag_or_none": None}
    assert parse("--threshold-method", "NBPLUGIN") == {"threshold_method": "nbPlugin"}
    assert parse("--weights", "") == {"weights": ()}
    assert parse("--b", "1", "--b", "2") == {"b": 2}  # the last one wins
    assert parse("--alpha", "-0.5") == {"alpha": -0.5}  # validation is the dataclass's job


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nope", "1"], "unknown option --nope for method 'demo'"),
        (["--alhpa", "1"], "did you mean --alpha?"),
        (["--b", "1.5"], "option --b: invalid value '1.5' (expected an integer)"),
        (["--alpha", "x"], "option --alpha: invalid value 'x' (expected a number)"),
        (["--alpha", "nan"], "expected a number"),
        (["--threshold-method", "best"], "expected one of delta, nbPlugin, muan"),
        (["--limit54", "5"], "expected 2 comma-separated values"),
        (["--limit54", "5,x"], "--limit54"),
        (["--past-weeks-not-included", "x"], "expected an integer or none"),
        (["--m", "lm"], "expected a number or one of glm or none"),
        (["--trend=maybe"], "expected true or false"),
        (["--no-trend=1"], "takes no value"),
        (["--no-b"], "unknown option --no-b"),
        (["--b"], "option --b needs a value"),
        (["stray"], "unexpected argument 'stray'"),
    ],
)
def test_errors_name_the_option(args: list[str], message: str) -> None:
    with pytest.raises(InputError) as err:
        parse(*args)
    assert message in str(err.value)


def test_split_args_keeps_own_options_and_positionals() -> None:
    own = {"--method": True, "--output": True, "--quiet": False, "--help": False}
    kept, method = split_args(
        [
            "in.csv",
            "--method",
            "demo",
            "--b",
            "3",
            "--no-trend",
            "--quiet",
            "--alpha=0.1",
            "--output",
            "o.csv",
            "--m",
            "-1",
        ],
        own,
        DemoControl,
    )
    assert kept == ["in.csv", "--method", "demo", "--quiet", "--output", "o.csv"]
    assert method == ["--b", "3", "--no-trend", "--alpha=0.1", "--m", "-1"]
    # A flag of the control takes no value, so the next token stays positional.
    kept, method = split_args(["--trend", "in.csv"], own, DemoControl)
    assert (kept, method) == (["in.csv"], ["--trend"])
    # Everything after "--" is positional.
    kept, method = split_args(["--", "--b"], own, DemoControl)
    assert (kept, method) == (["--", "--b"], [])


def test_convert_rejects_unsupported_types() -> None:
    with pytest.raises(ValueError, match="cannot be set"):
        convert(dict[str, int], "1")


def test_describe_options() -> None:
    d = dict(describe_options(DemoControl))
    assert d["--trend/--no-trend"] == "bool, default True"
    assert d["--limit54"] == "comma-separated int,int, default 5,4"
    assert d["--threshold-method"] == "delta|nbPlugin|muan, default delta"
    assert d["--past-weeks-not-included"] == "int or none, default none"
