"""Does SQL text change rows?  The rule that tells a data ``RunSQL`` from a
schema one (docs/design.md, "What the hooks prevent").

A small tokenizer, not a SQL parser: statements are classified by their
leading keyword, and what could hide a keyword (strings, quoted names,
dollar-quoted bodies, comments) is skipped.
"""
from __future__ import annotations

import re

_DATA_LEADERS = frozenset((
    'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'COPY', 'TRUNCATE', 'CALL',
    'REPLACE', 'UPSERT', 'LOAD', 'DO', 'EXEC', 'EXECUTE',
))
_DML = frozenset(('INSERT', 'UPDATE', 'DELETE', 'MERGE'))
# Keywords that make a following INSERT/UPDATE/DELETE part of DDL
# (``ON DELETE CASCADE``, ``AFTER INSERT OR UPDATE``, ``GRANT INSERT``...).
_DDL_PREFIX = frozenset((
    'ON', 'OR', 'BEFORE', 'AFTER', 'OF', 'GRANT', 'REVOKE', ',', 'INSTEAD',
))
_SQL_TOKEN_RE = re.compile(
    r"""
    (?P<skip>
        --[^\n]*
      | /\*.*?(?:\*/|\Z)
      | [EeBbXxNnUu]?'(?:[^']|'')*(?:'|\Z)
      | "(?:[^"]|"")*(?:"|\Z)
      | `[^`]*(?:`|\Z)
      | \$(?P<tag>[A-Za-z_]\w*)?\$.*?(?:\$(?P=tag)?\$|\Z)
    )
  | (?P<word>[A-Za-z_][\w$]*)
  | (?P<semi>;)
  | (?P<comma>,)
    """,
    re.S | re.X,
)


def sql_changes_rows(sql: str) -> bool:
    """Whether SQL text holds a row-changing statement.

    Statements are classified by their leading keyword (``INSERT``,
    ``UPDATE``, ``DELETE``, ``MERGE``, ``COPY``, ``TRUNCATE``, ``CALL``, ``DO``
    ...), ``SELECT ... INTO``, or DML inside a ``WITH``; string literals,
    quoted identifiers, dollar-quoted bodies and comments are skipped, so a
    ``CREATE FUNCTION`` whose body updates rows is still DDL.
    """
    words: list[str] = []
    for match in _SQL_TOKEN_RE.finditer(sql):
        if match.lastgroup == 'word':
            words.append(match.group().upper())
        elif match.lastgroup == 'comma':
            words.append(',')
        elif match.lastgroup == 'semi':
            if _statement_changes_rows(words):
                return True
            words = []
    return _statement_changes_rows(words)


def _statement_changes_rows(words: list[str]) -> bool:
    if not words:
        return False
    lead = words[0]
    if lead in _DATA_LEADERS:
        return True
    if lead == 'SELECT':
        return 'INTO' in words
    if lead == 'WITH':
        return any(
            w in _DML and (i == 0 or words[i - 1] not in _DDL_PREFIX)
            for i, w in enumerate(words)
        )
    return False
