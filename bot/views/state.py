"""Reading a submitted modal defensively: a missing or odd field becomes an empty answer, never an error.

Every input in our modals uses the same string as block id and action id, so one name reads one answer.
"""

from __future__ import annotations

import json
import re
from typing import Any


class SubmittedView:
    def __init__(self, view: Any) -> None:
        state = view.get("state") if isinstance(view, dict) else None
        values = state.get("values") if isinstance(state, dict) else None
        self.values: dict[str, Any] = values if isinstance(values, dict) else {}
        try:
            metadata = json.loads(view.get("private_metadata") or "{}") if isinstance(view, dict) else {}
        except (TypeError, ValueError):
            metadata = {}
        self.metadata: dict[str, Any] = metadata if isinstance(metadata, dict) else {}

    def action(self, name: str) -> dict[str, Any]:
        block = self.values.get(name)
        action = block.get(name) if isinstance(block, dict) else None
        return action if isinstance(action, dict) else {}

    def selected(self, name: str) -> str:
        option = self.action(name).get("selected_option") or {}
        value = option.get("value") if isinstance(option, dict) else None
        return value if isinstance(value, str) else ""

    def selected_many(self, name: str) -> list[str]:
        options = self.action(name).get("selected_options") or []
        if not isinstance(options, list):
            return []
        return [o["value"] for o in options if isinstance(o, dict) and isinstance(o.get("value"), str) and o["value"]]

    def typed(self, name: str) -> str:
        """Typed text without NUL characters, which PostgreSQL refuses to store."""
        value = self.action(name).get("value")
        return value.replace("\x00", "") if isinstance(value, str) else ""

    def picked_date(self, name: str) -> str:
        value = self.action(name).get("selected_date")
        return value if isinstance(value, str) else ""

    def picked_time(self, name: str) -> str:
        value = self.action(name).get("selected_time")
        return value if isinstance(value, str) else ""

    def users(self, name: str) -> list[str]:
        users = self.action(name).get("selected_users") or []
        return [str(u) for u in users if isinstance(u, str)] if isinstance(users, list) else []

    @property
    def fields(self) -> set[str]:
        """Inline errors may only name blocks the modal really has, or Slack rejects the whole response."""
        return {name for name in self.values if isinstance(name, str)}


_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,10}")
_INTEGER_LIMIT = 2**31  # ids are INTEGER columns: 32 bits on PostgreSQL


def submission_key(view: Any, user_id: str) -> str:
    """Slack re-sends a submission with the same view id and hash; that pair (per person) marks a repeat."""
    view = view if isinstance(view, dict) else {}
    return f"view:{user_id}:{view.get('id') or ''}:{view.get('hash') or ''}"[:200]


def as_int(value: Any) -> int | None:
    """A whole number that fits a database id, or None: "²", "1e9", 10**20 and "x" are all None.

    str.isdigit() accepts "²" (which int() refuses), and a number past 32 bits makes PostgreSQL refuse the
    query, so neither reaches the database.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, int) and abs(value) < _INTEGER_LIMIT:
        return value
    return None
