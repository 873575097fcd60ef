"""The one error type of the detection commands: bad input, reported on one line with exit status 2."""

from __future__ import annotations

from typing import Any

EXIT_BAD_INPUT = 2


class InputError(Exception):
    """Bad input or settings.  ``str()`` is the single line printed on stderr.

    ``row`` is the 1-based *data row* number (the header is not counted; with
    quoted fields spanning lines it differs from the line number), ``row_kind``
    says how to name it ("data row" for CSV, "row" for Parquet).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        series: str | None = None,
        row_kind: str = "data row",
        about_input: bool = True,
    ) -> None:
        self.message = message
        self.about_input = about_input
        self.file = file
        self.row = row
        self.series = series
        self.row_kind = row_kind
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across Dask workers
        return (_rebuild, (self.message, self.file, self.row, self.series, self.row_kind, self.about_input))

    def with_file(self, file: str, row_kind: str | None = None) -> InputError:
        """The same error attributed to ``file`` (rows are counted in that file), unless it is not about input."""
        if not self.about_input:
            return self
        return InputError(self.message, file=file, row=self.row, series=self.series, row_kind=row_kind or self.row_kind)

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.row is not None:
            where.append(f"{self.row_kind} {self.row}")
        if self.series is not None:
            where.append(f"series {self.series!r}")
        text = " ".join(self.message.split())  # one line, whatever the message
        return (", ".join(where) + ": " + text) if where else text


def _rebuild(
    message: str, file: str | None, row: int | None, series: str | None, row_kind: str, about_input: bool
) -> InputError:
    return InputError(message, file=file, row=row, series=series, row_kind=row_kind, about_input=about_input)
