"""Arrow arrays from numpy arrays and Python strings without ``pyarrow.array`` or ``pyarrow.compute``.

``pa.array``, ``pa.scalar`` and compute functions given Python scalars ask pyarrow's pandas shim whether
the value is a pandas object, which imports pandas (about 0.4 s, a quarter of the start-up of
``dhnet detect``).  These helpers build the arrays from their buffers instead (no copy for contiguous
numpy arrays of the right width).  The string helpers (lengths, changes between neighbours, values at
positions, repetition) work on the offsets and data buffers with numpy, so that reading a CSV file and
writing the result does not import ``pyarrow.compute`` (about 0.04 s of start-up).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray


def _buffers(values: NDArray[Any], validity: pa.Buffer | None = None) -> list[pa.Buffer | None]:
    return [validity, pa.py_buffer(np.ascontiguousarray(values).ravel())]


def int64s(values: NDArray[Any]) -> pa.Array:
    """An ``int64`` array (e.g. indices for ``take``)."""
    v = np.ascontiguousarray(values, dtype=np.int64).ravel()
    return pa.Array.from_buffers(pa.int64(), v.size, _buffers(v))


def int8s(values: NDArray[Any]) -> pa.Array:
    v = np.ascontiguousarray(values, dtype=np.int8).ravel()
    return pa.Array.from_buffers(pa.int8(), v.size, _buffers(v))


def floats(values: NDArray[Any]) -> pa.Array:
    """A ``float64`` array with ``NaN`` as null (as ``pa.array(..., from_pandas=True)``)."""
    v = np.ascontiguousarray(values, dtype=np.float64).ravel()
    nan = np.isnan(v)
    n_null = int(np.count_nonzero(nan))
    if not n_null:
        return pa.Array.from_buffers(pa.float64(), v.size, _buffers(v), null_count=0)
    validity = pa.py_buffer(np.packbits(~nan, bitorder="little"))
    return pa.Array.from_buffers(pa.float64(), v.size, _buffers(v, validity), null_count=n_null)


def dates(values: NDArray[Any]) -> pa.Array:
    """A ``date32`` array of ``datetime64`` values (days)."""
    v = np.ascontiguousarray(np.asarray(values, dtype="datetime64[D]").astype(np.int64).astype(np.int32)).ravel()
    return pa.Array.from_buffers(pa.date32(), v.size, _buffers(v))


def strings(values: Sequence[str]) -> pa.Array:
    """A ``string`` array of Python strings (none may be missing)."""
    encoded = [s.encode("utf-8") for s in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    data = pa.py_buffer(b"".join(encoded))
    if offsets[-1] < 2**31:
        return pa.Array.from_buffers(pa.string(), len(encoded), [None, pa.py_buffer(offsets.astype(np.int32)), data])
    large = pa.Array.from_buffers(pa.large_string(), len(encoded), [None, pa.py_buffer(offsets), data])
    return large.cast(pa.string())


def _string_buffers(arr: pa.Array) -> tuple[NDArray[np.int64], NDArray[np.uint8]]:
    """Offsets (``len + 1``, into the data) and data bytes of a ``string``/``large_string`` array."""
    typ = arr.type
    if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
        raise TypeError(f"not a string array: {typ}")
    n = len(arr)
    bufs = arr.buffers()
    width = np.int64 if pa.types.is_large_string(typ) else np.int32
    if bufs[1] is None:  # pragma: no cover - an empty array without buffers
        offsets = np.zeros(n + 1, dtype=np.int64)
    else:
        size = np.dtype(width).itemsize
        offsets = np.frombuffer(bufs[1], dtype=width, count=n + 1, offset=arr.offset * size).astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, dtype=np.uint8)
    return offsets, data


def string_lengths(arr: pa.Array) -> NDArray[np.int64]:
    """Length in bytes of every value of a string array (0 for the empty string; nulls undefined)."""
    offsets, _ = _string_buffers(arr)
    return np.diff(offsets)


def string_changes(arr: pa.Array) -> NDArray[np.bool_]:
    """``arr[i + 1] != arr[i]`` for ``i < len(arr) - 1`` (as ``pc.not_equal`` of the two slices, no nulls)."""
    offsets, data = _string_buffers(arr)
    lengths = np.diff(offsets)
    change = lengths[1:] != lengths[:-1]
    same_len = np.flatnonzero(~change)
    if same_len.size:
        # compare the bytes of each equal-length neighbour pair: value i + 1 against value i
        ln = lengths[same_len + 1]
        total = int(ln.sum())
        if total:
            pair = np.repeat(np.arange(same_len.size), ln)
            within = np.arange(total) - np.repeat(np.cumsum(ln) - ln, ln)
            a = data[offsets[same_len + 1][pair] + within]
            b = data[offsets[same_len][pair] + within]
            differs = np.zeros(same_len.size, dtype=bool)
            np.logical_or.at(differs, pair[a != b], True)
            change[same_len] = differs
    return change


def strings_at(arr: pa.Array, positions: NDArray[Any]) -> list[str]:
    """The values of a string array at ``positions`` as Python strings (no nulls)."""
    offsets, data = _string_buffers(arr)
    raw = data.tobytes()
    idx = np.asarray(positions, dtype=np.int64)
    return [raw[lo:hi].decode("utf-8") for lo, hi in zip(offsets[idx].tolist(), offsets[idx + 1].tolist(), strict=True)]


def repeat_strings(values: Sequence[str], times: int) -> pa.Array:
    """A ``string`` array holding each of ``values`` ``times`` times in a row."""
    encoded = [s.encode("utf-8") for s in values]
    lengths = np.repeat(np.asarray([len(b) for b in encoded], dtype=np.int64), times)
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = pa.py_buffer(b"".join(b * times for b in encoded))
    if offsets[-1] < 2**31:
        return pa.Array.from_buffers(pa.string(), lengths.size, [None, pa.py_buffer(offsets.astype(np.int32)), data])
    large = pa.Array.from_buffers(pa.large_string(), lengths.size, [None, pa.py_buffer(offsets), data])
    return large.cast(pa.string())


def to_numpy(arr: pa.Array | pa.ChunkedArray) -> NDArray[Any]:
    """The values of a boolean, integer, floating-point or date array as numpy (``Array.to_numpy`` imports
    pandas).  Values under nulls are undefined (zero for booleans): check ``null_count`` first."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    n, typ = len(arr), arr.type
    if pa.types.is_dictionary(typ):
        return to_numpy(arr.dictionary_decode())
    if pa.types.is_boolean(typ):
        bits = np.frombuffer(arr.buffers()[1], dtype=np.uint8)
        return np.unpackbits(bits, bitorder="little", count=arr.offset + n)[arr.offset :].astype(bool)
    if pa.types.is_floating(typ) and typ.bit_width in (32, 64):
        dtype: np.dtype[Any] = np.dtype(f"f{typ.bit_width // 8}")
    elif pa.types.is_signed_integer(typ) or pa.types.is_date(typ) or pa.types.is_timestamp(typ):
        dtype = np.dtype(f"i{typ.bit_width // 8}")
    elif pa.types.is_unsigned_integer(typ):
        dtype = np.dtype(f"u{typ.bit_width // 8}")
    else:
        raise TypeError(f"no numpy view of Arrow type {typ}")
    if n == 0:
        return np.empty(0, dtype=dtype)
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=n, offset=arr.offset * dtype.itemsize)
