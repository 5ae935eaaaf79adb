"""Slack's mrkdwn, the text format of messages, refusals and answers: what typed text needs to show as typed.

Its own module, below both the views and the services: services compose refusals in mrkdwn (they name people
with mentions) and must not import the views to escape what people typed.
"""

from __future__ import annotations


def escape(text: str, *, in_code: bool = False) -> str:
    """Text people typed or stored must not turn into mentions or links in mrkdwn, nor end a code span."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("`", "'") if in_code else escaped


def unescape(text: str) -> str:
    """Mrkdwn composed for Slack, shown in a terminal: the escaped &, < and > as typed again."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
