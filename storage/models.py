"""SQLModel tables for the vocabulary in DESIGN.md.

Constraints live here, not in services, so that a bug elsewhere cannot write a second enrollment for the
same role, a second check-in for one meeting, or a Delivery twice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

# Named constraints make Alembic batch migrations on SQLite deterministic.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    MENTOR = "mentor"
    MENTEE = "mentee"


class EnrollmentStatus(StrEnum):
    APPLIED = "applied"
    WAITLISTED = "waitlisted"
    MATCHED = "matched"
    PAUSED = "paused"
    WITHDRAWN = "withdrawn"


class PairingStatus(StrEnum):
    PROPOSED = "proposed"
    INTRODUCED = "introduced"
    ACTIVE = "active"
    ENDED = "ended"
    DISSOLVED = "dissolved"


LIVE_PAIRING_STATUSES = (PairingStatus.PROPOSED, PairingStatus.INTRODUCED, PairingStatus.ACTIVE)
# Pairings whose two have been introduced and not parted: they agree terms, meet and log check-ins.
RUNNING_PAIRING_STATUSES = (PairingStatus.INTRODUCED, PairingStatus.ACTIVE)


class Cadence(StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"


class DeliveryStatus(StrEnum):
    DUE = "due"
    CLAIMED = "claimed"
    SENT = "sent"
    UNDELIVERABLE = "undeliverable"
    SKIPPED = "skipped"


# Default factories are plain functions, not `list` or `dict`: pydantic inspects a factory's signature
# every time it builds a row, and a builtin's signature is parsed from text (~90 us, against ~7 us for a
# function); an Enrollment has five list columns, so `Enrollment()` cost 0.7 ms of CPU per intake.
def empty_list() -> list[Any]:
    return []


def empty_dict() -> dict[str, Any]:
    return {}


def json_column(nullable: bool = False) -> Any:
    return Field(default_factory=empty_list, sa_column=Column(JSON, nullable=nullable))


class Program(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True, index=True)
    applications_open: date | None = None
    applications_close: date
    agreement_due: date
    starts_on: date
    ends_on: date
    default_cadence: str = Field(default=Cadence.MONTHLY, max_length=16)
    min_mentor_years: int = 3
    default_capacity: int = 2
    eligibility: str = Field(default="open", max_length=16)  # open | allowlist | channel
    eligibility_allowlist: list[str] = json_column()
    eligibility_channel: str | None = Field(default=None, max_length=32)
    allow_guests: bool = False
    admin_channel: str | None = Field(default=None, max_length=32)
    timezone: str = Field(default="America/Los_Angeles", max_length=64)
    blackouts: list[list[str]] = json_column()  # [[start, end], ...] ISO dates, inclusive
    cross_org: str = Field(default="none", max_length=16)  # none | prefer | require
    neighbor_orgs: list[str] = json_column()
    weights: dict[str, float] = Field(default_factory=empty_dict, sa_column=Column(JSON, nullable=False))
    admins: list[str] = json_column()
    digest_weekday: int = 0  # Monday
    digest_hour: int = 9
    # The program's work day, Monday to Friday in each person's own time zone (a school's 7:30 AM - 3:30 PM):
    # a pair that says no to chat outside work hours hears from the bot only then, and reminders are planned
    # for its start.
    work_day_starts: time = time(9, 0)
    work_day_ends: time = time(17, 0)
    closed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Person(SQLModel, table=True):
    slack_user_id: str = Field(primary_key=True, max_length=32)
    display_name: str = Field(default="", max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    is_bot: bool = False
    is_guest: bool = False
    deactivated: bool = False
    # The first day (where the person is) of the account's current deactivation, and past ones as
    # [[first day, last day], ...]: a pair's periods inside them are not counted as missed.
    deactivated_on: date | None = None
    deactivation_history: list[list[str]] = json_column()
    dm_channel_id: str | None = Field(default=None, max_length=32)
    unreachable_reason: str | None = Field(default=None, max_length=64)
    refreshed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Enrollment(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("program_id", "person_id", "role", name="uq_enrollment_program_person_role"),)

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", index=True)
    person_id: str = Field(foreign_key="person.slack_user_id", index=True, max_length=32)
    role: str = Field(max_length=8)
    status: str = Field(default=EnrollmentStatus.APPLIED, max_length=16)
    library_type: str = Field(default="", max_length=16)
    organization: str = Field(default="", max_length=200)
    region: str = Field(default="", max_length=200)
    specializations: list[str] = json_column()
    years_experience: int = 0
    grade_levels: list[str] = json_column()
    goals: str = Field(default="", max_length=3000)
    meeting_format: str = Field(default="any", max_length=16)
    capacity: int = 0
    not_with: list[str] = json_column()
    waitlist_reason: str | None = Field(default=None, max_length=500)
    paused_until: date | None = None
    status_before_pause: str | None = Field(default=None, max_length=16)
    paused_on: date | None = None
    # Past pauses as [[first day, last day], ...]: periods inside a pause are not counted as missed.
    pause_history: list[list[str]] = json_column()
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Pairing(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("mentor_enrollment_id", "mentee_enrollment_id", name="uq_pairing_mentor_mentee"),
    )

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", index=True)
    mentor_enrollment_id: int = Field(foreign_key="enrollment.id", index=True)
    mentee_enrollment_id: int = Field(foreign_key="enrollment.id", index=True)
    status: str = Field(default=PairingStatus.PROPOSED, max_length=16)
    score: float = 0.0
    reasons: list[str] = json_column()
    conversation_id: str | None = Field(default=None, max_length=32)
    at_risk: bool = False
    decided_by: str | None = Field(default=None, max_length=32)  # who approved or rejected it, or left it
    created_at: datetime = Field(default_factory=utcnow)
    approved_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str | None = Field(default=None, max_length=500)

    def is_draft(self) -> bool:
        """A proposal no coordinator has approved: not the pair's yet (the next preview may score it afresh)."""
        return self.status == PairingStatus.PROPOSED and self.approved_at is None

    def awaiting_intro(self) -> bool:
        """Approved, its introduction not sent yet (it waits for working hours or the next sweep)."""
        return self.status == PairingStatus.PROPOSED and self.approved_at is not None

    def is_running(self) -> bool:
        """Introduced and not over: the two agree terms, meet and log check-ins."""
        return self.status in RUNNING_PAIRING_STATUSES


class Agreement(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    pairing_id: int = Field(foreign_key="pairing.id", unique=True)
    cadence: str = Field(default=Cadence.MONTHLY, max_length=16)
    mentor_on_call: bool = False
    after_hours_ok: bool = False
    boundaries: str = Field(default="professional", max_length=16)  # professional | open
    first_meeting_on: date | None = None
    proposed_by: str | None = Field(default=None, max_length=32)
    mentor_accepted_at: datetime | None = None
    mentee_accepted_at: datetime | None = None
    # The terms both last accepted, copied when the agreement settles: a change one of them proposes overwrites
    # the columns above, and until the partner accepts it the bot must keep following these. All None until the
    # agreement first settles (settled_cadence tells: settled_first_meeting_on may be None either way).
    settled_cadence: str | None = Field(default=None, max_length=16)
    settled_mentor_on_call: bool | None = None
    settled_after_hours_ok: bool | None = None
    settled_boundaries: str | None = Field(default=None, max_length=16)
    settled_first_meeting_on: date | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class CheckIn(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    pairing_id: int = Field(foreign_key="pairing.id", index=True)
    logged_by: str = Field(max_length=32)
    met_on: date
    duration_minutes: int
    format: str = Field(default="video", max_length=16)
    topics: list[str] = json_column()
    rating: int | None = None
    private_note: str | None = Field(default=None, max_length=3000)
    # A Slack retry or a double click carries the same key, so the meeting is logged once.
    idempotency_key: str = Field(max_length=200, unique=True)
    created_at: datetime = Field(default_factory=utcnow)


class Delivery(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("kind", "subject", "period", name="uq_delivery_kind_subject_period"),
        Index("ix_delivery_status_due_at", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    subject: str = Field(max_length=64)
    period: str = Field(max_length=32)
    program_id: int | None = Field(default=None, foreign_key="program.id", index=True)
    pairing_id: int | None = Field(default=None, foreign_key="pairing.id", index=True)
    recipient: str = Field(max_length=200)  # channel id, user id, or comma-separated users for a group DM
    status: str = Field(default=DeliveryStatus.DUE, max_length=16)
    due_at: datetime = Field(default_factory=utcnow)
    payload: dict[str, Any] = Field(default_factory=empty_dict, sa_column=Column(JSON, nullable=False))
    claimed_at: datetime | None = None
    claim_token: str | None = Field(default=None, max_length=64)
    attempts: int = 0
    channel_id: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    error: str | None = Field(default=None, max_length=200)
    sent_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(max_length=32, index=True)
    action: str = Field(max_length=64)
    program_id: int | None = Field(default=None, foreign_key="program.id", index=True)
    detail: dict[str, Any] = Field(default_factory=empty_dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(default_factory=utcnow, index=True)


class ProcessedRequest(SQLModel, table=True):
    """Slack re-sends a request it thinks timed out; the first one's key is remembered here."""

    key: str = Field(primary_key=True, max_length=200)
    at: datetime = Field(default_factory=utcnow)


class ClockSetting(SQLModel, table=True):
    """The rehearsal clock shared by every process on one database."""

    id: int = Field(default=1, primary_key=True)
    now: datetime


class SurveyResponse(SQLModel, table=True):
    """The wrap-up survey: one answer per person per pairing."""

    __table_args__ = (UniqueConstraint("pairing_id", "person_id", name="uq_surveyresponse_pairing_person"),)

    id: int | None = Field(default=None, primary_key=True)
    pairing_id: int = Field(foreign_key="pairing.id", index=True)
    person_id: str = Field(max_length=32)
    satisfaction: int
    would_continue: bool
    still_in_libraries: bool
    created_at: datetime = Field(default_factory=utcnow)
