"""Everything the app asks of Slack, listed once so manifest.yml can be checked against it.

Tests fail when the app calls a Web API method missing from this list, or when manifest.yml declares
a scope no listed method or event needs.
"""

from __future__ import annotations

COMMANDS = ("/mentor", "/mentor-admin")
BOT_EVENTS = ("app_home_opened", "user_change")

WEB_API_METHODS = frozenset(
    {
        "auth.test",
        "apps.connections.open",  # Socket Mode, with the app-level token (connections:write), checked at start
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.update",
        "conversations.open",
        "conversations.history",
        "conversations.info",
        "conversations.members",
        "users.info",
        "users.lookupByEmail",
        "views.open",
        "views.update",
        "views.push",
        "views.publish",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    }
)

# Scopes a listed method accepts several of; we need the ones for the conversation kinds we use.
SCOPES_FOR_COMMANDS = ("commands",)
