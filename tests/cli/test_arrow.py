"""The string helpers of ``dhnet.cli._arrow`` agree with ``pyarrow.compute`` (which ``dhnet detect`` avoids)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dhnet.cli import _arrow

VALUES = ["a", "a", "b", "ab", "ba", "ba", "", "", "Zürich", "Zürich", "Zürick", "x" * 40, "x" * 40, "é", "e"]


@pytest.mark.parametrize("large", [False, True])
@pytest.mark.parametrize(("lo", "hi"), [(0, len(VALUES)), (3, 12), (1, 2), (5, 6)])
def test_string_helpers_match_pyarrow_compute(large: bool, lo: int, hi: int) -> None:
    arr = pa.array(VALUES, type=pa.large_string() if large else pa.string()).slice(lo, hi - lo)
    n = len(arr)
    np.testing.assert_array_equal(_arrow.string_lengths(arr), pc.binary_length(arr).to_numpy())
    want = pc.not_equal(arr.slice(1), arr.slice(0, n - 1)).to_numpy(zero_copy_only=False) if n > 1 else []
    np.testing.assert_array_equal(_arrow.string_changes(arr), np.asarray(want, dtype=bool))
    pos = np.arange(n)[::-1]
    assert _arrow.strings_at(arr, pos) == arr.take(pa.array(pos)).to_pylist()


def test_repeat_strings() -> None:
    got = _arrow.repeat_strings(["a", "Zürich", ""], 3)
    assert got.type == pa.string()
    assert got.to_pylist() == ["a"] * 3 + ["Zürich"] * 3 + [""] * 3
    assert _arrow.repeat_strings([], 4).to_pylist() == []
    assert _arrow.repeat_strings(["a", "b"], 0).to_pylist() == []
