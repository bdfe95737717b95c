"""Errors raised for bad user input.

The workflow catches nothing: an InputError surfaces as the rule's error, so its
message must say which file, column and row are at fault.
"""


class InputError(ValueError):
    """User data or configuration that cannot be used as given."""

    def __init__(self, message, *, path=None, column=None, rows=None):
        parts = []
        if path is not None:
            parts.append(f"{path}")
        if column is not None:
            parts.append(f"column {column!r}")
        if rows is not None:
            rows = list(rows)
            shown = ", ".join(str(r) for r in rows[:10])
            more = f" (and {len(rows) - 10} more)" if len(rows) > 10 else ""
            parts.append(f"row{'s' if len(rows) != 1 else ''} {shown}{more}")
        where = ": ".join([", ".join(parts)]) if parts else ""
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.column = column
        self.rows = rows
