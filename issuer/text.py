"""Text from outside: one rule for every string a client sends, wherever it arrives.

Refused, in every request body field, URL path and query, wallet form or JSON body and import
line:

- C0 controls U+0000–U+001F, which includes TAB, LF and CR: no field of the API is
  multi-line (names, addresses, references, reasons, labels are one line each), and
  PostgreSQL cannot store U+0000 in text at all;
- DEL U+007F and the C1 controls U+0080–U+009F;
- lone surrogates U+D800–U+DFFF (JSON can spell them as `\\ud800`; no UTF-8 encoder stores
  them);
- the line and paragraph separators U+2028 and U+2029 (a line break by another name).

Everything else of Unicode is allowed (umlauts, ß, other scripts, combining marks, format
characters such as U+200D). A refused value answers 422 `invalid_field` (problem+json), or
the per-line import error `invalid_field`; the value itself is never echoed.

How it is applied: `check_text` is a pydantic "before" validator; `issuer.schemas.common.ApiModel`
runs it on every field of every request body (strings and lists of strings; nested models
check themselves), `JsonObject` runs the deep form on free JSON objects, the URL is checked
by `issuer.url_guard`, and the problem handler classifies any other refused value that
contains a control character (an enum, a date, a UUID) as `invalid_field` too.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

CONTROL_CHARACTER = "control_character"
"""The pydantic error type (and the `type` of a problem's error entry) for a refused character."""

MAX_JSON_DEPTH = 32
"""Free JSON objects (eligibility rules, fee parameters) nest at most this deep."""

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")


def has_control_character(text: str) -> bool:
    """Whether `text` holds a character that no text field may carry."""
    return _CONTROL.search(text) is not None


def _refused() -> PydanticCustomError:
    return PydanticCustomError(CONTROL_CHARACTER, "control characters are not allowed")


def check_text(value: Any) -> Any:
    """Pydantic before-validator: a string, or a list of strings, without control characters.

    Anything else passes through untouched for the field's own validation (nested models and
    dictionaries check themselves)."""
    if isinstance(value, str):
        if has_control_character(value):
            raise _refused()
    elif isinstance(value, list | tuple):
        for item in value:
            if isinstance(item, str) and has_control_character(item):
                raise _refused()
    return value


def json_fault(value: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why parsed JSON is refused: CONTROL_CHARACTER (in any key or string), "too_deep"
    (nested beyond `max_depth`), or None. Iterative: any depth costs no recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if has_control_character(item):
                return CONTROL_CHARACTER
        elif isinstance(item, dict | list | tuple):
            if depth > max_depth:
                return "too_deep"
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)
    return None


def check_json_text(value: Any) -> Any:
    """Pydantic before-validator for free JSON (see `json_fault`)."""
    fault = json_fault(value)
    if fault == CONTROL_CHARACTER:
        raise _refused()
    if fault is not None:
        raise PydanticCustomError(fault, "nested too deeply")
    return value


JsonObject = Annotated[dict[str, Any], BeforeValidator(check_json_text)]
"""A free JSON object whose keys and strings carry no control characters, bounded in depth."""
