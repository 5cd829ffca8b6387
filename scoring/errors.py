"""The errors scoring can raise. Each message says what is wrong, where, and how to fix it."""


class ScoringError(Exception):
    """Base of every error raised by `scoring` (bad input or an unknown name)."""


class UnknownName(ScoringError):
    """An instrument, scoring, value set, method or country that does not exist.

    `field` names the request field at fault (`instrument`, `scoring`, `method`, `country`,
    `version`), so that a front end can point at it without reading the message; None when
    no one field is.
    """

    def __init__(self, message: str, *, field: str | None = None):
        self.field = field
        super().__init__(message)


class MissingItems(ScoringError):
    """Answers lack an item that the chosen scoring needs."""

    def __init__(self, instrument: str, scoring: str, items: list[str]):
        self.items = items
        super().__init__(
            f"{instrument} scoring '{scoring}' needs the item column(s) {', '.join(items)}; "
            "add them (an empty cell means a missing answer)"
        )


class AnswerError(ScoringError):
    """An answer that is not one of the item's allowed codes.

    `row` is 0-based; front ends add their own offset (the CLI prints 1-based data rows).
    """

    def __init__(self, item: str, row: int, found: object, allowed: str, more: int = 0):
        self.item, self.row, self.found, self.allowed, self.more = item, row, found, allowed, more
        super().__init__(self.describe(row + 1, "row"))

    def describe(self, row_number: int, row_word: str = "data row") -> str:
        tail = f" ({self.more} more row(s) in this column are wrong too)" if self.more else ""
        return (
            f"{row_word} {row_number}, column {self.item}: found {self.found!r}, "
            f"allowed {self.allowed}{tail}"
        )
