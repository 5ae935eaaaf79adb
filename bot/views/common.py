"""Small helpers shared by the view builders; they keep text inside Slack's limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from slack_sdk.models.blocks import Block, Option

from bot.mrkdwn import escape
from bot.services.catalog import UNREACHABLE_WORDS

SECTION_TEXT_LIMIT = 3000
MAX_BLOCKS_PER_MESSAGE = 50
MAX_BLOCKS_PER_VIEW = 100

SLACK_TROUBLE = "Slack didn't answer in time, so nothing was changed. Please try again in a moment."


@dataclass(frozen=True)
class Speaker:
    """Who explains an admin channel problem, and the commands a coordinator fixes it with: Shelfmate itself
    in Slack, or the command line speaking of it."""

    i_am: str  # "I'm" / "Shelfmate is"
    i: str  # "I" / "Shelfmate"
    me: str  # "me" / "Shelfmate"
    edit: str  # how to choose another admin channel
    invite: str = "`/invite @Shelfmate`"


IN_SLACK = Speaker(i_am="I'm", i="I", me="me", edit="`/mentor-admin program edit`")


def on_the_command_line(program_name: str) -> Speaker:
    edit = f"shelfmate program edit {program_name!r} --admin-channel CHANNEL_ID"
    return Speaker(i_am="Shelfmate is", i="Shelfmate", me="Shelfmate", edit=edit, invite="/invite @Shelfmate")


def admin_channel_refusal(problem: str, speaker: Speaker = IN_SLACK) -> str | None:
    """Why Shelfmate can't post in an admin channel, in a few words ("it is archived"); None for an error that
    is not about the channel (bot.delivery.ADMIN_CHANNEL_ERRORS are). Slack says channel_not_found both for a
    deleted channel and for a private one Shelfmate is not in, so it is "can't see it", not "it is gone"."""
    return {
        "is_archived": "it is archived",
        "not_in_channel": f"{speaker.i_am} not in it",
        "channel_not_found": f"{speaker.i} can't see it",
    }.get(problem)


def admin_channel_fix(problem: str, channel: str, speaker: Speaker = IN_SLACK) -> str:
    """What a coordinator does about it: an archived channel can only be replaced; one Shelfmate is not in (or
    cannot see: it may be private) takes an invitation, or another channel."""
    other = f"choose another admin channel with {speaker.edit}"
    if problem == "is_archived":
        return other
    if problem == "channel_not_found":
        return f"if it is a private channel, invite {speaker.me} with {speaker.invite} in it; otherwise {other}"
    return f"please invite {speaker.me} with {speaker.invite} in {channel}, or {other}"


def admin_channel_problem(problem: str, channel: str, speaker: Speaker = IN_SLACK) -> str:
    """The sentence for a coordinator who just chose an admin channel Shelfmate can't post in (the Slack form
    and `shelfmate program create/edit` say the same). `channel` as it should show: <#C123> in Slack."""
    fix = admin_channel_fix(problem, channel, speaker)
    cannot = "so summaries and alerts can't be posted there"
    if problem == "is_archived":
        return f"{channel} is archived, {cannot}: {fix}."
    if problem == "channel_not_found":
        opening = f"{speaker.i} can't see {channel}"
    else:
        opening = f"{speaker.i_am} not in {channel} yet"
    return f"{opening}, {cannot}: {fix}. Until then they come to coordinators by DM."


def export_command(kind: str, program_name: str) -> str:
    """The command that lists a cut list in full, ready to copy."""
    return f"`/mentor-admin export {kind} {escape(program_name, in_code=True)}`"


def mentoring_hours(total: float) -> str:
    """ "1 mentoring hour", "2.25 mentoring hours"."""
    return f"{total:g} mentoring {'hour' if total == 1 else 'hours'}"


def plural(n: int, word: str, plural_form: str | None = None) -> str:
    """`1 pair`, `3 pairs`: a count with its noun."""
    return f"{n} {word if n == 1 else plural_form or word + 's'}"


def month_labels(months: Sequence[str]) -> list[str]:
    """ "2025-03" -> "Mar". When the months run into another year, the first month and each January say which
    ("Sep 2025" … "Jan 2026"); when a name would come twice (more than twelve months), every month does."""
    firsts = [date.fromisoformat(m + "-01") for m in months]
    if len({d.year for d in firsts}) <= 1:
        return [d.strftime("%b") for d in firsts]
    labels = [d.strftime("%b %Y") if i == 0 or d.month == 1 else d.strftime("%b") for i, d in enumerate(firsts)]
    return labels if len(set(labels)) == len(labels) else [d.strftime("%b %Y") for d in firsts]


def unreachable_words(error: str) -> str:
    """A Slack error as a reason people understand; one we have no words for is quoted as Slack said it."""
    return UNREACHABLE_WORDS.get(error) or f"Slack says `{escape(error, in_code=True)}`"


def clip(text: str, limit: int = SECTION_TEXT_LIMIT) -> str:
    """Cut a text to a Slack limit with an ellipsis rather than let Slack reject the whole message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(blocks: list[Block], limit: int = MAX_BLOCKS_PER_MESSAGE) -> list[dict[str, Any]]:
    """Serialize through slack_sdk's models, which validate lengths and required fields."""
    if len(blocks) > limit:
        raise ValueError(f"{len(blocks)} blocks exceed Slack's limit of {limit}")
    return [block.to_dict() for block in blocks]


LABEL_LIMIT = 75  # characters of a button's text or a select option's label
WORD_SLACK = 15  # characters a cut may move back (or on) to fall between words


def fit_label(text: str, limit: int = LABEL_LIMIT, *, tail: int | None = None) -> str:
    """Cut a label in the middle, not at the end: the end of a name often tells choices apart ("… Cohort
    2025" and "… Cohort 2026"). `tail`: how many characters of the end to keep (a third by default)."""
    if len(text) <= limit:
        return text
    tail = max(0, min(limit // 3 if tail is None else tail, limit - 2))
    head = limit - 1 - tail
    start, end = text[:head], text[len(text) - tail :] if tail else ""
    # Cut between words where one ends near the cut, not inside a word ("Library…Program", not "Sta…ogram").
    if not text[head].isspace() and (space := start.rfind(" ")) >= max(1, head - WORD_SLACK):
        start = start[:space]
    if end and not text[len(text) - tail - 1].isspace() and 0 <= (space := end.find(" ")) < WORD_SLACK:
        end = end[space + 1 :]
    return start.rstrip() + "…" + end.lstrip()


def fit_labels(texts: Sequence[str], limit: int = LABEL_LIMIT, suffixes: Sequence[str] | None = None) -> list[str]:
    """Labels for choices shown side by side, each within `limit` with its suffix kept whole, and no two alike
    when their texts differ: where cutting made two the same, the cut moves until what differs shows; texts
    that are the same anyway are numbered."""
    ends = list(suffixes) if suffixes is not None else [""] * len(texts)

    def label(i: int, tail: int | None = None) -> str:
        return fit_label(texts[i], limit - len(ends[i]), tail=tail) + ends[i]

    labels = [label(i) for i in range(len(texts))]
    for tail in range(limit - 1):
        alike = _alike(labels)
        if not alike:
            return labels
        for i in alike:
            labels[i] = label(i, tail)
    counts: dict[str, int] = {}
    for i in _alike(labels):
        counts[labels[i]] = counts.get(labels[i], 0) + 1
        number = f" ({counts[labels[i]]})"
        labels[i] = fit_label(texts[i], limit - len(ends[i]) - len(number)) + ends[i] + number
    return labels


def _alike(labels: list[str]) -> list[int]:
    """Indexes of labels that equal another."""
    seen: dict[str, int] = {}
    for text in labels:
        seen[text] = seen.get(text, 0) + 1
    return [i for i, text in enumerate(labels) if seen[text] > 1]


def options(choices: dict[str, str]) -> list[Option]:
    """Select options from a value -> label map (labels fitted to Slack's 75 characters, no two alike)."""
    return [
        Option(value=value, label=label)
        for value, label in zip(choices, fit_labels(list(choices.values())), strict=True)
    ]


def initial_option(choices: dict[str, str], value: str) -> Option | None:
    """The option to preselect (its label exactly as `options` shows it), or None when no longer offered."""
    labels = dict(zip(choices, fit_labels(list(choices.values())), strict=True))
    return Option(value=value, label=labels[value]) if value in choices else None
