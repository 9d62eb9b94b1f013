"""HTTP routes: parse, call one service function, map the result to a schema."""

from __future__ import annotations
