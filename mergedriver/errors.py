"""The one error type, and the exit statuses (docs/design.md, "Rules that must always hold")."""
from __future__ import annotations

EXIT_CLEAN = 0
EXIT_PROBLEMS = 1
EXIT_UNUSABLE = 2


class MigmergeError(Exception):
    """Unusable input or environment; the CLI prints it and exits 2.

    ``path`` and ``line`` locate the cause when there is one, so the message
    reads ``path:line: message`` like a compiler's.
    """

    def __init__(
            self,
            message: str,
            *,
            path: str | None = None,
            line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line

    def __str__(self) -> str:
        if self.path is None:
            return self.message
        return f'{self.path}:{self.line or 1}: {self.message}'


class ParseError(MigmergeError):
    """A migration module that cannot be read as one (syntax, encoding...)."""
