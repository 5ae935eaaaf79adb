"""Fixed vocabularies shown in modals and used by matching: one reviewable data file plus small enums."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

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
ROLES: dict[str, str] = {"mentor": "Mentor", "mentee": "Mentee"}


@cache
def specializations() -> dict[str, str]:
    """Specialization id -> label, in the order of the data file."""
    text = resources.files("bot").joinpath("data/specializations.json").read_text(encoding="utf-8")
    return {entry["id"]: entry["label"] for entry in json.loads(text)["specializations"]}


def specialization_label(spec_id: str) -> str:
    return specializations().get(spec_id, spec_id.replace("_", " "))
