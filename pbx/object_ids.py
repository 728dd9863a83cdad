"""Object ids as URLs and query strings carry them: ASCII digits only.

Python is generous with digits: a regex `\\d` (without `re.ASCII`), `str.isdigit()` and `int()`
accept any Unicode digit. `int()` reads U+0661 (ARABIC-INDIC DIGIT ONE) as 1, so `/devices/` +
U+0661 named device 1; U+00B3 (SUPERSCRIPT THREE) passes `isdigit()` but `int()` refuses it, so
`/users/` + U+00B3 answered 500. An id that is not plain `0-9` names nothing: a path answers
404, a query parameter its field's error.
"""

import re

ID_PATTERN = "[0-9]+"  # never \d: it matches every Unicode decimal digit
_ID = re.compile(ID_PATTERN)


def parse_id(text: str) -> int | None:
    """The id `text` spells in ASCII digits, or None (other digits, `"12a"`, `""`)."""
    return int(text) if _ID.fullmatch(text) else None


class IdConverter:
    """`<id:name>`: an object id, passed to the view as an int (Django's `int`, said plainly)."""

    regex = ID_PATTERN

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


class UserRefConverter:
    """`<user:user>`: `me` or a user id (ASCII digits), passed to the view as the string."""

    regex = f"me|{ID_PATTERN}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str | int) -> str:
        return str(value)
