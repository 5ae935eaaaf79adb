"""Fixed vocabularies shown in modals and used by matching: one reviewable data file plus small enums."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LIBRARY_TYPES: dict[str, str] = {
    "school": "School library",
    "public": "Public library",
    "academic": "Academic library",
    "special": "Special library",
}
GRADE_LEVELS: dict[str, str] = {
    "elementary": "Elementary (K-5)",
    "middle": "Middle school (6-8)",
    "high": "High school (9-12)",
}
MEETING_FORMATS: dict[str, str] = {
    "video": "Video call",
    "in_person": "In person",
    "phone": "Phone",
    "any": "Any of these",
}
CADENCES: dict[str, str] = {"weekly": "Weekly", "biweekly": "Every two weeks", "monthly": "Monthly"}
# The stretch a pair is expected to meet in, as the pair says it: never "this period", which in a school is a
# class period, nor "fortnight", which American librarians do not say.
CADENCE_STRETCH: dict[str, str] = {"weekly": "this week", "biweekly": "these two weeks", "monthly": "this month"}


def cadence_stretch(cadence: str | None) -> str:
    """ "these two weeks" for a pair meeting every two weeks; "this month" for anything unknown (the default)."""
    return CADENCE_STRETCH.get(cadence or "", CADENCE_STRETCH["monthly"])


ROLES: dict[str, str] = {"mentor": "Mentor", "mentee": "Mentee"}

# Why Slack would not take a message for someone, said plainly (Slack's error codes are for the log):
# one list for the messages, the summary and the participants export.
UNREACHABLE_WORDS: dict[str, str] = {
    "account_inactive": "account deactivated",
    "user_disabled": "account deactivated",
    "deactivated": "account deactivated",
    "user_not_found": "no longer in this workspace",
    "users_not_found": "no longer in this workspace",
    "cannot_dm_bot": "can't receive DMs from apps",
    "messages_tab_disabled": "has turned off messages from apps",
    "channel_not_found": "the conversation no longer exists",
    "is_archived": "the conversation is archived",
    "not_in_channel": "Shelfmate is not in the conversation",
}


def unreachable_label(error: str) -> str:
    """Why someone cannot be reached, in plain text (a CSV cell): the words when we have them, else Slack's."""
    return UNREACHABLE_WORDS.get(error) or f"Slack says {error}"


@cache
def specializations() -> dict[str, str]:
    """Specialization id -> label, in the order of the data file."""
    text = resources.files("bot").joinpath("data/specializations.json").read_text(encoding="utf-8")
    return {entry["id"]: entry["label"] for entry in json.loads(text)["specializations"]}


def specialization_label(spec_id: str) -> str:
    return specializations().get(spec_id, spec_id.replace("_", " "))


# Time zones as people in the US and Canada say them. A zone id Slack reports for someone ("America/Detroit")
# is named after the zone it keeps the same clock as all year; any other is named after its city.
ZONE_NAMES: dict[str, str] = {
    "America/New_York": "Eastern time",
    "America/Chicago": "Central time",
    "America/Denver": "Mountain time",
    "America/Phoenix": "Arizona time",
    "America/Los_Angeles": "Pacific time",
    "America/Anchorage": "Alaska time",
    "Pacific/Honolulu": "Hawaii time",
    "America/Halifax": "Atlantic time",
    "America/St_Johns": "Newfoundland time",
}


def _clock_through_the_year(zone: ZoneInfo, year: int) -> tuple[tuple[timedelta | None, str | None], ...]:
    """A zone's UTC offset and abbreviation in each month of a year: two zones with the same ones keep the
    same clock (the same daylight-saving dates too, near enough to name them alike)."""
    moments = (datetime(year, month, 15, 12, tzinfo=UTC).astimezone(zone) for month in range(1, 13))
    return tuple((m.utcoffset(), m.tzname()) for m in moments)


ZONE_REFERENCE_YEAR = 2025  # the year whose clocks `zone_label` compares


def years_phrase(count: object) -> str:
    """ "1 year", "3 years"."""
    return f"{count} year" if count in (1, -1) else f"{count} years"


def in_libraries(library_type: str) -> str:
    """Where a person's years were spent: the intake asks for years in the kind of library they chose (a public
    librarian of ten years who moved to a school library a year ago has "1 year in school libraries"); "in an
    unlisted type of library" when none is known."""
    kind = " ".join(str(library_type).split()).casefold()
    return f"in {kind} libraries" if kind else "in an unlisted type of library"


def years_in_kind(years: int, library_type: str) -> str:
    """ "3 years in school libraries": every sentence about a person's years names the kind of library (the
    seed's ideal school mentor has years in a school library, not years anywhere)."""
    return f"{years_phrase(years)} {in_libraries(library_type)}"


def applications_deadline_words(closes: date | str, zone_id: str) -> str:
    """ "Feb 17, 2025 at 11:59 PM Pacific time": the one way the application deadline is said (the refusal to a
    late applicant and the reminder before it), on the program's last day to apply, in its zone as people name it.
    The year is said: a refusal may be about last year's cycle. (Here, not in bot/views: the join refusal is
    written by bot.services.enrollment, which must not import the views.)"""
    day = date.fromisoformat(closes) if isinstance(closes, str) else closes
    return f"{day:%b %-d, %Y} at 11:59 PM {zone_label(zone_id)}".rstrip()


@cache
def zone_label(zone_id: str) -> str:
    """ "America/Los_Angeles" -> "Pacific time", "Europe/Lisbon" -> "Lisbon time", "UTC"; "" for no zone.

    Said the way people say it, never a zone id: "PST" and "America/Los_Angeles" are not how anyone names it.
    """
    zone_id = (zone_id or "").strip()
    if not zone_id:
        return ""
    if zone_id in ZONE_NAMES:
        return ZONE_NAMES[zone_id]
    try:
        zone = ZoneInfo(zone_id)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ""  # not a zone: better unnamed than named wrong
    # A fixed year, not today's: the answer is cached for the process's life, so it must not depend on when
    # it was first asked (zone rules rarely change; a new tzdata comes with a restart anyway).
    year = ZONE_REFERENCE_YEAR
    clock = _clock_through_the_year(zone, year)
    for known, name in ZONE_NAMES.items():
        if _clock_through_the_year(ZoneInfo(known), year) == clock:
            return name
    if "/" not in zone_id or zone_id.startswith("Etc/"):  # "UTC", "Etc/GMT+5" (which is UTC-5): its offset
        offset = clock[0][0]
        hours = offset.total_seconds() / 3600 if offset is not None else 0.0
        return "UTC" if hours == 0 else f"UTC{hours:+g}"
    return zone_id.rsplit("/", 1)[-1].replace("_", " ") + " time"
