"""Slack's mrkdwn, the text format of messages, refusals and answers: what typed text needs to show as typed.

Its own module, below both the views and the services: services compose refusals in mrkdwn (they name people
with mentions) and must not import the views to escape what people typed. Where Slack shows text as typed
(form errors, plain_text objects) the listeners turn that mrkdwn back with `as_plain_text`, so every refusal
is composed one way, escaped, and shown right in both places.
"""

from __future__ import annotations

import re
from collections.abc import Mapping


def escape(text: str, *, in_code: bool = False) -> str:
    """Text people typed or stored must not turn into mentions or links in mrkdwn, nor end a code span."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("`", "'") if in_code else escaped


def unescape(text: str) -> str:
    """Mrkdwn composed for Slack, shown in a terminal: the escaped &, < and > as typed again."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# `<@U123>`, `<#C123|name>`, `<!here>`, `<!date^…|fallback>`, `<https://…|label>`: Slack's references, which
# only mrkdwn turns into names and links. Typed text never holds a raw `<` (escape), so each is the bot's own.
_REFERENCE = re.compile(r"<([@#!]?)([^<>|]*)(?:\|([^<>]*))?>")
# Emphasis the bot puts around whole words or phrases: `*Name*`, `_Goals:_`.
_EMPHASIS = re.compile(r"(?<![\w*_])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*_])")
_CODE = re.compile(r"`([^`\n]+)`")


def as_plain_text(text: str, names: Mapping[str, str] | None = None) -> str:
    """Mrkdwn the bot composed, for a place Slack shows as typed (a form error, a plain_text object).

    References read as Slack would show them: `@name` for a person and `#name` for a channel when `names`
    (id -> name) or the reference itself knows the name, else the id, which is what Slack's search takes.
    Emphasis markers and code spans' backticks go; escaped `&`, `<` and `>` read as typed again.
    """
    known = names or {}

    def reference(match: re.Match[str]) -> str:
        sigil, target, label = match.group(1), match.group(2), match.group(3)
        if sigil == "!":  # `<!here>`, `<!date^…|Feb 3>`, `<!subteam^S1|@team>`: the fallback text, if any
            return label or "@" + target.partition("^")[0]
        if sigil:  # a person or a channel
            return sigil + (known.get(target) or label or target)
        return label or target  # a link

    plain = _REFERENCE.sub(reference, text)
    plain = _CODE.sub(r"\1", plain)
    plain = _EMPHASIS.sub(r"\2", plain)
    return unescape(plain)


def unnamed_channels(text: str) -> set[str]:
    """Ids of the channels a mrkdwn text mentions without a name (`<#C123>`): plain text needs their names."""
    return {match.group(2) for match in _REFERENCE.finditer(text) if match.group(1) == "#" and not match.group(3)}
