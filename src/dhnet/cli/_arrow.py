"""Arrow arrays from numpy arrays and Python strings without ``pyarrow.array``.

``pa.array``, ``pa.scalar`` and compute functions given Python scalars ask pyarrow's pandas shim whether
the value is a pandas object, which imports pandas (about 0.4 s, a quarter of the start-up of
``dhnet detect``).  These helpers build the arrays from their buffers instead (no copy for contiguous
numpy arrays of the right width).
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
