"""Reading a submitted modal defensively: a missing or odd field becomes an empty answer, never an error.

Every input in our modals uses the same string as block id and action id, so one name reads one answer.
"""

from __future__ import annotations

import json
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
        return str(option.get("value") or "") if isinstance(option, dict) else ""

    def selected_many(self, name: str) -> list[str]:
        options = self.action(name).get("selected_options") or []
        if not isinstance(options, list):
            return []
        return [str(o.get("value")) for o in options if isinstance(o, dict) and o.get("value")]

    def typed(self, name: str) -> str:
        value = self.action(name).get("value")
        return value if isinstance(value, str) else ""

    def picked_date(self, name: str) -> str:
        value = self.action(name).get("selected_date")
        return value if isinstance(value, str) else ""

    def users(self, name: str) -> list[str]:
        users = self.action(name).get("selected_users") or []
        return [str(u) for u in users if isinstance(u, str)] if isinstance(users, list) else []

    @property
    def fields(self) -> set[str]:
        """Inline errors may only name blocks the modal really has, or Slack rejects the whole response."""
        return set(self.values)


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None
