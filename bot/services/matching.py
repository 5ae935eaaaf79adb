"""Matching engine: scores mentor/mentee pairs and assigns mentees to mentors optimally.

Pure Python + numpy/scipy/OR-Tools: no Slack, no database. Callers turn enrollments into
:class:`Candidate` objects, call :func:`match` for a whole program or :func:`explain_pair` for one pair.

Scoring. Each named component yields a value in [0, 1] and a sentence. Scores are kept as integer
*milli-points* (a total of 100,000 = a score of 100.0) so that the solver, the certificate and
:func:`explain_pair` all add exactly the same integers; the displayed score is rounded to 1 decimal.
A component under half credit is a *concern*: its reason is marked and listed after the strengths, so
that a coordinator sees every mismatch before approving (:attr:`PairScore.reasons`).

Assignment. Maximize first the number of matched mentees, then the total score, under each mentor's
remaining capacity. This is a min-cost flow where a matched edge costs ``-(BIG + points)`` with ``BIG``
larger than any possible total score, so one more match always beats any score gain. Large pools are
solved on a pruned graph (each mentee's best mentors plus each mentor's best mentees) and then
*certified*: node potentials are computed from the residual graph (Bellman-Ford) and every pruned
edge's reduced cost is checked in vectorized blocks. Edges that could improve the solution are added
and the problem is re-solved until none remains, so the result is optimal for the full graph.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np
from ortools.graph.python import min_cost_flow

from bot.services.catalog import GRADE_LEVELS, in_libraries, years_in_kind
from bot.services.reasons import CONCERN_MARK, split_reasons

__all__ = [
    "COMPONENTS",
    "CONCERN_MARK",
    "DEFAULT_WEIGHTS",
    "Candidate",
    "ComponentScore",
    "Forbidden",
    "MatchResult",
    "MatchRules",
    "MatchStats",
    "PairScore",
    "ProposedPair",
    "RuleViolation",
    "ScoreBlocks",
    "Waitlisted",
    "explain_pair",
    "match",
    "score_blocks",
    "score_pair",
    "split_reasons",
]

COMPONENTS: tuple[str, ...] = (
    "specialization",
    "library_type",
    "experience",
    "grade_levels",
    "time_zone",
    "meeting_format",
    "cross_org",
)
DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "specialization": 4.0,
        "library_type": 2.0,
        "experience": 2.0,
        "grade_levels": 1.0,
        "time_zone": 1.0,
        "meeting_format": 1.0,
        "cross_org": 2.0,
    }
)
CrossOrgRule = Literal["none", "prefer", "require"]
# Marks a reason that is a weakness of the pair. Pairings store reasons as plain sentences, so the mark
# travels with the sentence to every place that shows it (preview, CSV, intro).
TOTAL_POINTS = 100_000  # milli-points of a perfect score (100.0)
IDEAL_GAP_YEARS = 3  # experience gap that earns full credit
TZ_ZERO_QUARTERS = 24  # 6 hours apart (in quarter hours) earns no time-zone credit
FULL_GRAPH_MAX_PAIRS = 1_500_000  # "auto" solves on the full graph up to this many mentee x mentor pairs
_BLOCK_CELLS = 4_000_000  # cells of one scoring block (float32: 16 MB)
_FORBIDDEN = np.float32(-1.0)
_GRADE_ORDER = {level: rank for rank, level in enumerate(GRADE_LEVELS)}  # youngest first, as the form lists them
_FORMAT_WORDS = {"in_person": "in-person", "video": "video", "phone": "phone"}
IN_PERSON = "in_person"

# Hard-rule codes (also the order in which they are reported).
RULE_SELF = "self_pair"
RULE_MIN_YEARS = "min_mentor_years"
RULE_MENTOR_DECLINED = "mentor_not_with"
RULE_MENTEE_DECLINED = "mentee_not_with"
RULE_REPEAT = "repeat_pair"
RULE_ENDED_EARLY = "ended_early_elsewhere"
RULE_SAME_ORG = "same_organization"
RULE_CAPACITY = "capacity"


# --------------------------------------------------------------------------------------------------
# Public data types
# --------------------------------------------------------------------------------------------------


def _frozen(value: object) -> frozenset[str]:
    """Accept any iterable of strings from callers; store an immutable set."""
    if isinstance(value, frozenset):
        return value
    if isinstance(value, str):
        return frozenset([value]) if value else frozenset()
    return frozenset(value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Candidate:
    """One enrollment (mentor or mentee) in a program, reduced to what matching needs."""

    enrollment_id: int
    person_id: str
    library_type: str = ""
    organization: str = ""
    region: str = ""
    specializations: frozenset[str] = frozenset()
    years_experience: int = 0
    grade_levels: frozenset[str] = frozenset()
    meeting_format: str = "any"
    utc_offset_hours: float = 0.0
    capacity: int = 0
    already_assigned: int = 0
    not_with: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in ("specializations", "grade_levels", "not_with"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @property
    def remaining_capacity(self) -> int:
        """Open mentee slots: live pairings already use part of the capacity."""
        return max(0, self.capacity - self.already_assigned)


@dataclass(frozen=True)
class MatchRules:
    """Program-level rules; ``weights`` is merged over :data:`DEFAULT_WEIGHTS`."""

    min_mentor_years: int = 3
    cross_org: CrossOrgRule = "none"
    neighbor_orgs: frozenset[str] = frozenset()
    forbidden_pairs: frozenset[tuple[str, str]] = frozenset()
    # Two people whose pairing in another program was ended early, in either role: never proposed again.
    ended_early_pairs: frozenset[tuple[str, str]] = frozenset()
    weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_WEIGHTS, hash=False)

    def __post_init__(self) -> None:
        if self.cross_org not in ("none", "prefer", "require"):
            raise ValueError(f"cross_org must be none, prefer or require, not {self.cross_org!r}")
        unknown = set(self.weights) - set(COMPONENTS)
        if unknown:
            raise ValueError(f"unknown score components: {', '.join(sorted(unknown))}")
        merged = {**DEFAULT_WEIGHTS, **{k: float(v) for k, v in self.weights.items()}}
        for name, weight in merged.items():
            if not math.isfinite(weight) or weight < 0:
                raise ValueError(f"weight of {name} must be a finite number >= 0")
        object.__setattr__(self, "weights", MappingProxyType(merged))
        object.__setattr__(self, "neighbor_orgs", _frozen(self.neighbor_orgs))
        object.__setattr__(self, "forbidden_pairs", frozenset(tuple(p) for p in self.forbidden_pairs))
        object.__setattr__(self, "ended_early_pairs", frozenset(tuple(p) for p in self.ended_early_pairs))

    def ended_early(self, a: str, b: str) -> bool:
        return (a, b) in self.ended_early_pairs or (b, a) in self.ended_early_pairs


@dataclass(frozen=True)
class ComponentScore:
    """One line of a score breakdown; ``points`` is its share of the 0..100 total."""

    name: str
    weight: float
    value: float
    points: float
    sentence: str
    # A strength that decides whether the pair can work at all (in person, in one region): listed first, so
    # that a surface showing the first few strengths shows it.
    leads: bool = False

    @property
    def concern(self) -> bool:
        """Under half credit: a mismatch a coordinator should weigh before approving, not a reason to pair."""
        return self.value < 0.5

    @property
    def reason(self) -> str:
        """The sentence, marked with :data:`CONCERN_MARK` when it is a concern."""
        return CONCERN_MARK + self.sentence if self.concern else self.sentence


@dataclass(frozen=True)
class PairScore:
    """Why a pair scores what it does: shown to coordinators and to the pair."""

    mentor_enrollment_id: int
    mentee_enrollment_id: int
    score: float
    milli_points: int
    components: tuple[ComponentScore, ...]

    @property
    def reasons(self) -> list[str]:
        """One sentence per component: strengths, strongest first, then concerns, most points missed first.

        Concerns are marked (:data:`CONCERN_MARK`) and kept at the end rather than sorted by points, so a
        surface that shows the first few strengths can still find and show every weakness.
        """
        strengths = sorted((c for c in self.components if not c.concern), key=lambda c: (not c.leads, -c.points))
        concerns = sorted((c for c in self.components if c.concern), key=lambda c: -c.weight * (1 - c.value))
        return [c.reason for c in strengths + concerns]


@dataclass(frozen=True)
class RuleViolation:
    rule: str
    sentence: str


@dataclass(frozen=True)
class Forbidden:
    """A pair that breaks at least one hard rule, with every rule it breaks."""

    mentor_enrollment_id: int
    mentee_enrollment_id: int
    violations: tuple[RuleViolation, ...]

    @property
    def rule(self) -> str:
        return self.violations[0].rule

    @property
    def reason(self) -> str:
        return "; ".join(v.sentence for v in self.violations)


@dataclass(frozen=True)
class ProposedPair:
    mentor_enrollment_id: int
    mentee_enrollment_id: int
    score: float
    reasons: list[str]
    milli_points: int = 0


@dataclass(frozen=True)
class Waitlisted:
    mentee_enrollment_id: int
    reason: str


@dataclass(frozen=True)
class MatchStats:
    """Numbers for coordinators and for tuning: what was solved and how."""

    mentees: int
    mentors: int
    eligible_mentors: int
    open_slots: int
    matched: int
    waitlisted: int
    total_milli_points: int
    total_score: float
    mean_score: float
    allowed_pairs: int
    graph_edges: int
    rounds: int
    pruned: bool
    seconds: float


@dataclass(frozen=True)
class MatchResult:
    pairs: list[ProposedPair]
    waitlist: list[Waitlisted]
    shortages: dict[str, int]
    stats: MatchStats


# --------------------------------------------------------------------------------------------------
# Small helpers shared by the scalar and the vectorized scoring
# --------------------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    """Trimmed, case-insensitive, whitespace-collapsed form used for comparisons."""
    return " ".join(str(text).split()).casefold()


def _quarters(offset_hours: float) -> int:
    """Time zones are compared in quarter hours (every real UTC offset is a multiple of 15 min)."""
    return int(round(float(offset_hours) * 4))


def _allocate_points(rules: MatchRules, grades_apply: bool) -> dict[str, int]:
    """Split TOTAL_POINTS over the applicable components in proportion to their weights, exactly.

    Grade levels apply only when both are school librarians and the mentee lists grade levels;
    otherwise the component is left out and the other weights are normalized without it.
    The organization component applies under "prefer", and under any rule when the program lists
    neighbouring organizations, as the program form promises ("Neighbouring organizations (preferred)"):
    under "require" every allowed pair is cross-organization, but a mentor from a neighbouring district
    is still the better match for a solo librarian; under "none" only the neighbour counts.
    """
    active = {
        name: rules.weights[name]
        for name in COMPONENTS
        if rules.weights[name] > 0
        and (name != "cross_org" or _cross_org_scored(rules))
        and (name != "grade_levels" or grades_apply)
    }
    total = sum(active.values())
    if total <= 0:
        return {}
    exact = {name: TOTAL_POINTS * w / total for name, w in active.items()}
    points = {name: int(math.floor(x)) for name, x in exact.items()}
    leftover = TOTAL_POINTS - sum(points.values())
    by_fraction = sorted(active, key=lambda n: (-(exact[n] - points[n]), COMPONENTS.index(n)))
    for name in by_fraction[:leftover]:
        points[name] += 1
    return points


def _cross_org_scored(rules: MatchRules) -> bool:
    return rules.cross_org == "prefer" or _has_neighbors(rules)


def _has_neighbors(rules: MatchRules) -> bool:
    return any(_org_key(o) for o in rules.neighbor_orgs)


_Allocations = tuple[dict[str, int], dict[str, int]]


def _allocations(rules: MatchRules) -> _Allocations:
    """(points when grade levels apply, points when they do not)."""
    return _allocate_points(rules, True), _allocate_points(rules, False)


def _grades_apply(mentor: Candidate, mentee: Candidate) -> bool:
    return _is_school(mentor) and _is_school(mentee) and bool(mentee.grade_levels)


def _grade_mentee(c: Candidate) -> bool:
    """Mentees against whom school mentors are scored on grade levels."""
    return _is_school(c) and bool(c.grade_levels)


def _shares(full: int, items: Sequence[str]) -> dict[str, int]:
    """Split ``full`` points over ``items`` (sorted) so that covering all of them sums to ``full``."""
    n = len(items)
    base, rem = divmod(full, n)
    return {item: base + (1 if k < rem else 0) for k, item in enumerate(items)}


def _experience_points(full: int, gap: int) -> int:
    """Full credit from a gap of IDEAL_GAP_YEARS, linear below, nothing at or under 0 (rounded half up)."""
    g = min(max(gap, 0), IDEAL_GAP_YEARS)
    return (2 * full * g + IDEAL_GAP_YEARS) // (2 * IDEAL_GAP_YEARS)


def _time_zone_points(full: int, quarters_apart: int) -> int:
    """1 at the same offset, 0 at 6 hours or more, linear between (rounded half up)."""
    d = min(abs(quarters_apart), TZ_ZERO_QUARTERS)
    return (2 * full * (TZ_ZERO_QUARTERS - d) + TZ_ZERO_QUARTERS) // (2 * TZ_ZERO_QUARTERS)


def _formats_compatible(a: str, b: str) -> bool:
    return a == b or a == "any" or b == "any"


def _in_person_wanted(a: str, b: str) -> bool:
    """A compatible pair that will meet in person (one of them asked for it), where distance matters."""
    return _formats_compatible(a, b) and IN_PERSON in (a, b)


def _format_points(full: int, a: str, b: str, region_a: str, region_b: str) -> int:
    """Full credit for compatible formats, none for an in-person pair known to be in different regions: the
    intake form asks for a region so that people who want to meet in person are matched with someone near."""
    if not _formats_compatible(a, b):
        return 0
    if _in_person_wanted(a, b) and region_a and region_b and region_a != region_b:
        return 0
    return full


def _grade_key(level: str) -> tuple[int, str]:
    return (_GRADE_ORDER.get(level, len(_GRADE_ORDER)), level)


def _org_key(org: str) -> str:
    """Organization used for same-org tests; an unlisted organization never equals another."""
    return _norm(org)


def _same_org(a: Candidate, b: Candidate) -> bool:
    ka, kb = _org_key(a.organization), _org_key(b.organization)
    return bool(ka) and ka == kb


def _is_school(c: Candidate) -> bool:
    return _norm(c.library_type) == "school"


# --------------------------------------------------------------------------------------------------
# Scalar scoring and explanations
# --------------------------------------------------------------------------------------------------


class _Words:
    """Names, labels and small grammar helpers for the sentences."""

    def __init__(
        self, mentor: Candidate, mentee: Candidate, names: Mapping[str, str] | None, labels: Mapping[str, str] | None
    ) -> None:
        names = names or {}
        self.mentor = names.get(mentor.person_id) or "the mentor"
        self.mentee = names.get(mentee.person_id) or "the mentee"
        self._labels = labels or {}

    def spec(self, spec_id: str) -> str:
        return self._labels.get(spec_id) or spec_id.replace("_", " ")

    def specs(self, ids: Sequence[str]) -> str:
        return ", ".join(self.spec(s) for s in sorted(ids))

    @staticmethod
    def grades(levels: Sequence[str]) -> str:
        """ "Elementary (K-5), Middle school (6-8)": the words the intake form offered, youngest first."""
        ordered = sorted(levels, key=_grade_key)
        return ", ".join(GRADE_LEVELS.get(g) or g.replace("_", " ") for g in ordered)


def _cap(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _hours(quarters: int) -> str:
    h = abs(quarters) / 4
    text = f"{h:g}"
    return f"{text} hour" if h == 1 else f"{text} hours"


def _a_library(library_type: str) -> str:
    t = _norm(library_type) or "unlisted type of"
    article = "an" if t[0] in "aeiou" else "a"
    return f"{article} {t} library"


def _component_scores(
    mentor: Candidate, mentee: Candidate, rules: MatchRules, alloc: Mapping[str, int], words: _Words
) -> list[ComponentScore]:
    """The breakdown of one pair; its points must equal the vectorized encoding's exactly."""
    out: list[ComponentScore] = []

    def add(name: str, value: float, milli: int, sentence: str, *, leads: bool = False) -> None:
        out.append(ComponentScore(name, rules.weights[name], value, milli / 1000, _cap(sentence), leads))

    if "specialization" in alloc:
        full = alloc["specialization"]
        sought = sorted(mentee.specializations)
        if not sought:
            add("specialization", 0.5, full // 2, f"{words.mentee} did not name specializations to learn")
        else:
            shares = _shares(full, sought)
            covered = [s for s in sought if s in mentor.specializations]
            missing = [s for s in sought if s not in mentor.specializations]
            milli = sum(shares[s] for s in covered)
            n, k = len(sought), len(covered)
            if k == n == 1:
                text = f"offers the specialization {words.mentee} seeks: {words.specs(covered)}"
            elif k == n:
                text = f"offers all {n} specializations {words.mentee} seeks: {words.specs(covered)}"
            elif k == 0:
                text = f"offers none of the specializations {words.mentee} seeks ({words.specs(missing)})"
            else:
                text = (
                    f"offers {k} of the {n} specializations {words.mentee} seeks: {words.specs(covered)}"
                    f" (not {words.specs(missing)})"
                )
            add("specialization", k / n, milli, text)

    if "library_type" in alloc:
        full = alloc["library_type"]
        a, b = _norm(mentor.library_type), _norm(mentee.library_type)
        if a and a == b:
            add("library_type", 1.0, full, f"both work in {a} libraries")
        else:
            text = (
                f"{words.mentor} works in {_a_library(mentor.library_type)}; "
                f"{words.mentee} in {_a_library(mentee.library_type)}"
            )
            add("library_type", 0.0, 0, text)

    if "experience" in alloc:
        full = alloc["experience"]
        ym, ye = mentor.years_experience, mentee.years_experience
        gap = ym - ye
        # Each counts years in their own kind of library; when the kinds differ, say where the mentee's were.
        same_kind = bool(_norm(mentor.library_type)) and _norm(mentor.library_type) == _norm(mentee.library_type)
        than = words.mentee if same_kind else f"{words.mentee} has {in_libraries(mentee.library_type)}"
        has = f"{words.mentor} has {years_in_kind(ym, mentor.library_type)}"
        if gap >= IDEAL_GAP_YEARS:
            text = f"{has}, {gap} more than {than}"
        elif gap > 0:
            text = f"{has}, only {gap} more than {than} ({IDEAL_GAP_YEARS} or more is ideal)"
        elif gap == 0:
            text = f"{has}, the same as {than}"
        else:
            text = f"{has}, {-gap} fewer than {than}"
        add("experience", min(max(gap, 0), IDEAL_GAP_YEARS) / IDEAL_GAP_YEARS, _experience_points(full, gap), text)

    if "grade_levels" in alloc:  # present only when grade levels apply (see _allocate_points)
        full = alloc["grade_levels"]
        served = sorted(mentee.grade_levels)
        shares = _shares(full, served)
        covered = sorted((g for g in served if g in mentor.grade_levels), key=_grade_key)
        missing = sorted((g for g in served if g not in mentor.grade_levels), key=_grade_key)
        n, k = len(served), len(covered)
        if k == n:
            text = f"works with the grade levels {words.mentee} serves: {words.grades(covered)}"
        elif k == 0:
            theirs = words.grades(list(mentor.grade_levels)) or "none listed"
            text = f"no shared grade levels: {words.mentor} serves {theirs}; {words.mentee} {words.grades(missing)}"
        else:
            text = (
                f"shares {k} of the {n} grade levels {words.mentee} serves: {words.grades(covered)}"
                f", not {words.grades(missing)}"
            )
        add("grade_levels", k / n, sum(shares[g] for g in covered), text)

    if "time_zone" in alloc:
        full = alloc["time_zone"]
        d = abs(_quarters(mentor.utc_offset_hours) - _quarters(mentee.utc_offset_hours))
        if d == 0:
            text = "same time zone"
        elif d >= TZ_ZERO_QUARTERS:
            text = f"time zones {_hours(d)} apart, which makes scheduling hard"
        else:
            text = f"time zones {_hours(d)} apart"
        add("time_zone", max(0.0, 1 - d / TZ_ZERO_QUARTERS), _time_zone_points(full, d), text)

    if "meeting_format" in alloc:
        full = alloc["meeting_format"]
        a, b = _norm(mentor.meeting_format), _norm(mentee.meeting_format)
        if a == b == "any":
            text = "both are open to any meeting format"
        elif a == b:
            text = f"both prefer {_FORMAT_WORDS.get(a, a)} meetings"
        elif a == "any":
            text = f"{words.mentor} is open to any meeting format; {words.mentee} prefers {_FORMAT_WORDS.get(b, b)}"
        elif b == "any":
            text = f"{words.mentee} is open to any meeting format; {words.mentor} prefers {_FORMAT_WORDS.get(a, a)}"
        else:
            text = (
                f"meeting formats differ: {words.mentor} prefers {_FORMAT_WORDS.get(a, a)}, "
                f"{words.mentee} prefers {_FORMAT_WORDS.get(b, b)}"
            )
        region_a, region_b = _norm(mentor.region), _norm(mentee.region)
        milli = _format_points(full, a, b, region_a, region_b)
        nearby = _in_person_wanted(a, b) and bool(region_a) and region_a == region_b
        if _in_person_wanted(a, b) and region_a and region_b:
            if nearby:
                text += f", both in {' '.join(mentee.region.split())}"
            else:
                text += (
                    f", but {words.mentor} is in {' '.join(mentor.region.split())} and {words.mentee} in "
                    f"{' '.join(mentee.region.split())}"
                )
        add("meeting_format", milli / full if full else 0.0, milli, text, leads=nearby)

    if "cross_org" in alloc:
        # Under "none" only a neighbour earns more than the neutral half; the same organization is no concern.
        full = alloc["cross_org"]
        org_a = " ".join(mentor.organization.split()) or "an unlisted organization"
        org_b = " ".join(mentee.organization.split()) or "an unlisted organization"
        neutral = rules.cross_org == "none"
        if _same_org(mentor, mentee):
            if neutral:
                add("cross_org", 0.5, full // 2, f"both are at {org_a}")
            else:
                add("cross_org", 0.0, 0, f"same organization ({org_a})")
        elif _neighbor(mentor, rules):  # the mentor comes from a neighbour; the mentee's own org listed is no bonus
            add(
                "cross_org",
                1.0,
                full,
                f"{words.mentor} is at {org_a}, one of the neighbor organizations; {words.mentee} is at {org_b}",
            )
        elif neutral:
            add("cross_org", 0.5, full // 2, f"{words.mentor} is at {org_a}, not one of the neighbor organizations")
        else:
            add("cross_org", 0.5, full // 2, f"cross-organization pair ({org_a} and {org_b})")
    return out


def _neighbor(c: Candidate, rules: MatchRules) -> bool:
    key = _org_key(c.organization)
    return bool(key) and key in {_org_key(o) for o in rules.neighbor_orgs}


def _violations(mentor: Candidate, mentee: Candidate, rules: MatchRules, words: _Words) -> list[RuleViolation]:
    """Every hard rule the pair breaks, in a fixed order."""
    out: list[RuleViolation] = []
    if mentor.person_id == mentee.person_id:
        out.append(RuleViolation(RULE_SELF, _cap(f"{words.mentor} cannot be paired with themselves")))
    if mentor.years_experience < rules.min_mentor_years:
        out.append(
            RuleViolation(
                RULE_MIN_YEARS,
                _cap(
                    f"{words.mentor} has {years_in_kind(mentor.years_experience, mentor.library_type)}; mentors in this "
                    f"program need at least {rules.min_mentor_years}"
                ),
            )
        )
    if mentee.person_id in mentor.not_with:
        out.append(
            RuleViolation(RULE_MENTOR_DECLINED, _cap(f"{words.mentor} asked not to be paired with {words.mentee}"))
        )
    if mentor.person_id in mentee.not_with:
        out.append(
            RuleViolation(RULE_MENTEE_DECLINED, _cap(f"{words.mentee} asked not to be paired with {words.mentor}"))
        )
    if (mentor.person_id, mentee.person_id) in rules.forbidden_pairs:
        out.append(
            RuleViolation(
                RULE_REPEAT,
                _cap(f"{words.mentor} and {words.mentee} were paired before; past pairings are not repeated"),
            )
        )
    elif rules.ended_early(mentor.person_id, mentee.person_id):
        out.append(
            RuleViolation(
                RULE_ENDED_EARLY,
                _cap(
                    f"{words.mentor} and {words.mentee} were paired in an earlier program and that pairing was "
                    "ended early; they are not paired again"
                ),
            )
        )
    if rules.cross_org == "require" and _same_org(mentor, mentee):
        org = " ".join(mentor.organization.split())
        out.append(
            RuleViolation(
                RULE_SAME_ORG,
                _cap(f"both are in the same organization ({org}); this program requires cross-organization pairs"),
            )
        )
    if mentor.remaining_capacity <= 0:
        out.append(
            RuleViolation(
                RULE_CAPACITY,
                _cap(f"{words.mentor} has no open mentee slots ({mentor.already_assigned} of {mentor.capacity} taken)"),
            )
        )
    return out


def explain_pair(
    mentor: Candidate,
    mentee: Candidate,
    rules: MatchRules,
    *,
    names: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> PairScore | Forbidden:
    """Score breakdown of one pair, or every hard rule it breaks (for hand-made pairs).

    ``names`` maps person ids to display names; ``labels`` maps specialization ids to labels.
    """
    words = _Words(mentor, mentee, names, labels)
    broken = _violations(mentor, mentee, rules, words)
    if broken:
        return Forbidden(mentor.enrollment_id, mentee.enrollment_id, tuple(broken))
    return _pair_score(mentor, mentee, rules, _allocations(rules), words)


def score_pair(
    mentor: Candidate,
    mentee: Candidate,
    rules: MatchRules,
    *,
    names: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> PairScore:
    """The score breakdown of one pair whatever the hard rules say: for a pair that exists already (paired by
    hand over a rule, say) and whose answers changed, to see which parts of its match read differently."""
    return _pair_score(mentor, mentee, rules, _allocations(rules), _Words(mentor, mentee, names, labels))


def _pair_score(
    mentor: Candidate, mentee: Candidate, rules: MatchRules, allocs: _Allocations, words: _Words
) -> PairScore:
    alloc = allocs[0] if _grades_apply(mentor, mentee) else allocs[1]
    parts = _component_scores(mentor, mentee, rules, alloc, words)
    milli = sum(int(round(p.points * 1000)) for p in parts)
    return PairScore(mentor.enrollment_id, mentee.enrollment_id, round(milli / 1000, 1), milli, tuple(parts))


# --------------------------------------------------------------------------------------------------
# Vectorized scoring: score = A @ B.T with integer entries, so float32 sums are exact (< 2**24)
# --------------------------------------------------------------------------------------------------


class _Columns:
    """Builds the shared feature columns of A (mentees) and B (mentors) one block at a time."""

    def __init__(self, n: int, m: int) -> None:
        self.n, self.m = n, m
        self.a_parts: list[np.ndarray] = []
        self.b_parts: list[np.ndarray] = []

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        assert a.shape[1] == b.shape[1]
        if a.shape[1]:
            self.a_parts.append(a.astype(np.float32, copy=False))
            self.b_parts.append(b.astype(np.float32, copy=False))

    def constant(self, a_mask: np.ndarray, value: int) -> None:
        """Rows flagged in ``a_mask`` get ``value`` points against every mentor."""
        if value and a_mask.any():
            self.add(a_mask.astype(np.float32)[:, None], np.full((self.m, 1), value, np.float32))

    def categorical(self, codes_a: Sequence[object], table: Mapping[object, np.ndarray]) -> None:
        """One column per distinct mentee value; ``table[v]`` is each mentor's points against value v."""
        values = sorted(set(codes_a), key=repr)
        if not values:
            return
        col = {v: k for k, v in enumerate(values)}
        a = np.zeros((self.n, len(values)), np.float32)
        a[np.arange(self.n), [col[v] for v in codes_a]] = 1
        b = np.stack([table[v] for v in values], axis=1) if self.m else np.zeros((0, len(values)))
        self.add(a, b)

    def build(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.a_parts:
            return np.zeros((self.n, 1), np.float32), np.zeros((1, self.m), np.float32)
        a = np.ascontiguousarray(np.concatenate(self.a_parts, axis=1))
        bt = np.ascontiguousarray(np.concatenate(self.b_parts, axis=1).T)
        return a, bt


def _encode(
    mentors: Sequence[Candidate], mentees: Sequence[Candidate], rules: MatchRules, alloc: Mapping[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Feature matrices whose product is every pair's milli-points (except the same-org correction)."""
    n, m = len(mentees), len(mentors)
    cols = _Columns(n, m)

    full = alloc.get("specialization", 0)
    if full:
        sought = sorted({s for c in mentees for s in c.specializations})
        idx = {s: k for k, s in enumerate(sought)}
        a = np.zeros((n, len(sought)), np.float32)
        for i, c in enumerate(mentees):
            if c.specializations:
                for s, q in _shares(full, sorted(c.specializations)).items():
                    a[i, idx[s]] = q
        b = np.zeros((m, len(sought)), np.float32)
        for j, c in enumerate(mentors):
            for s in c.specializations:
                if s in idx:
                    b[j, idx[s]] = 1
        cols.add(a, b)
        cols.constant(np.array([not c.specializations for c in mentees], bool), full // 2)

    full = alloc.get("library_type", 0)
    if full:
        types_b = np.array([_norm(c.library_type) for c in mentors], dtype=object)
        types_a = [_norm(c.library_type) for c in mentees]
        cols.categorical(types_a, {t: np.where(types_b == t, full, 0) if t else np.zeros(m) for t in set(types_a)})

    full = alloc.get("experience", 0)
    if full:
        years_b = np.array([c.years_experience for c in mentors], np.int64)
        years_a = [c.years_experience for c in mentees]
        table = {}
        for y in set(years_a):
            gaps = np.clip(years_b - y, 0, IDEAL_GAP_YEARS)
            table[y] = np.array([_experience_points(full, int(g)) for g in range(IDEAL_GAP_YEARS + 1)])[gaps]
        cols.categorical(years_a, table)

    full = alloc.get("grade_levels", 0)
    if full:  # only encoded for school mentees with grade levels x school mentors
        levels = sorted({g for c in mentees for g in c.grade_levels})
        idx = {g: k for k, g in enumerate(levels)}
        a = np.zeros((n, len(levels)), np.float32)
        for i, c in enumerate(mentees):
            for g, q in _shares(full, sorted(c.grade_levels)).items():
                a[i, idx[g]] = q
        b = np.zeros((m, len(levels)), np.float32)
        for j, c in enumerate(mentors):
            for g in c.grade_levels:
                if g in idx:
                    b[j, idx[g]] = 1
        cols.add(a, b)

    full = alloc.get("time_zone", 0)
    if full:
        q_b = np.array([_quarters(c.utc_offset_hours) for c in mentors], np.int64)
        q_a = [_quarters(c.utc_offset_hours) for c in mentees]
        steps = np.array([_time_zone_points(full, d) for d in range(TZ_ZERO_QUARTERS + 1)])
        cols.categorical(q_a, {q: steps[np.minimum(np.abs(q_b - q), TZ_ZERO_QUARTERS)] for q in set(q_a)})

    full = alloc.get("meeting_format", 0)
    if full:
        f_b = [_norm(c.meeting_format) for c in mentors]
        f_a = [_norm(c.meeting_format) for c in mentees]

        # Compatible formats earn `full`, except in-person pairs, which earn it below only when they are in the
        # same region or either region is unknown (see _format_points).
        def base(f: str, g: str) -> int:
            return full if _formats_compatible(f, g) and not _in_person_wanted(f, g) else 0

        cols.categorical(f_a, {f: np.array([base(f, g) for g in f_b]) for f in set(f_a)})
        _encode_in_person_regions(cols, mentors, mentees, f_a, f_b, full)

    full = alloc.get("cross_org", 0)
    if full:
        # Half credit for any pair, full when the mentor's organization is a neighbour; _Problem.block then
        # corrects same-organization pairs (see _build_problem).
        half = full // 2
        nb = {_org_key(o) for o in rules.neighbor_orgs}
        nb_b = np.array([bool(k) and k in nb for k in (_org_key(c.organization) for c in mentors)], np.float32)
        cols.add(np.ones((n, 1), np.float32), (half + (full - half) * nb_b)[:, None])
    return cols.build()


def _encode_in_person_regions(
    cols: _Columns,
    mentors: Sequence[Candidate],
    mentees: Sequence[Candidate],
    f_a: Sequence[str],
    f_b: Sequence[str],
    points: int,
) -> None:
    """`points` for each compatible in-person pair in the same region, or with a region unknown.

    Same or unknown is one of three exclusive terms: both regions known and equal (one column per region
    both sides name), the mentee's unknown, or only the mentor's unknown. Two groups of columns: an in-person
    mentee with an in-person or open mentor, and an open mentee with an in-person mentor.
    """
    if not points:
        return
    r_a = [_norm(c.region) for c in mentees]
    r_b = [_norm(c.region) for c in mentors]
    shared = sorted({r for r in r_a if r} & {r for r in r_b if r})
    idx = {r: k for k, r in enumerate(shared)}
    known_a = np.array([bool(r) for r in r_a], np.float32)
    unknown_b = np.array([not r for r in r_b], np.float32)
    onehot_a = np.zeros((len(mentees), len(shared)), np.float32)
    for i, r in enumerate(r_a):
        if r in idx:
            onehot_a[i, idx[r]] = 1
    onehot_b = np.zeros((len(mentors), len(shared)), np.float32)
    for j, r in enumerate(r_b):
        if r in idx:
            onehot_b[j, idx[r]] = 1
    groups = (
        (np.array([f == IN_PERSON for f in f_a], np.float32), np.array([g in (IN_PERSON, "any") for g in f_b])),
        (np.array([f == "any" for f in f_a], np.float32), np.array([g == IN_PERSON for g in f_b])),
    )
    for mentee_mask, mentor_mask in groups:
        if not mentee_mask.any() or not mentor_mask.any():
            continue
        a_side = points * mentee_mask[:, None]
        b_side = mentor_mask.astype(np.float32)[:, None]
        cols.add(a_side * onehot_a, b_side * onehot_b)
        cols.add(a_side * (1 - known_a)[:, None], b_side)
        cols.add(a_side * known_a[:, None], b_side * unknown_b[:, None])


@dataclass
class _Problem:
    """Sorted candidates plus everything needed to score any block of mentee rows quickly.

    Mentor columns: school mentors first (columns ``[0, school_mentors)``), each group ordered by
    (organization, enrollment id) so that a mentee's same-organization mentors form at most two
    contiguous slices. Pairs where grade levels apply (``grade_rows`` x school mentors) use their own
    encoding because their weights are normalized over one more component.
    """

    mentees: list[Candidate]
    mentors: list[Candidate]
    a: np.ndarray
    bt: np.ndarray
    grade_rows: np.ndarray
    a_grades: np.ndarray
    bt_grades: np.ndarray
    school_mentors: int
    org_lo: np.ndarray  # (n, 2): same-org slice in the school / other mentor group
    org_hi: np.ndarray
    same_org_points: np.ndarray | None  # (n, 2): cross-org credit to take back inside each slice
    require_cross_org: bool
    forbid_rows: np.ndarray
    forbid_cols: np.ndarray

    @property
    def n(self) -> int:
        return len(self.mentees)

    @property
    def m(self) -> int:
        return len(self.mentors)

    def block_rows(self) -> int:
        return max(1, min(self.n, _BLOCK_CELLS // max(1, self.m)))

    def block(self, start: int, stop: int) -> np.ndarray:
        """Milli-points of mentees[start:stop] x all mentors; forbidden pairs are -1."""
        s = self.a[start:stop] @ self.bt
        g0, g1 = np.searchsorted(self.grade_rows, [start, stop])
        if g1 > g0 and self.school_mentors:
            s[self.grade_rows[g0:g1] - start, : self.school_mentors] = self.a_grades[g0:g1] @ self.bt_grades
        for group in (0, 1):
            lo, hi = self.org_lo[start:stop, group], self.org_hi[start:stop, group]
            rows = np.flatnonzero(hi > lo)
            if self.same_org_points is not None:
                sub = self.same_org_points[start:stop, group]
                for r in rows:
                    s[r, lo[r] : hi[r]] -= sub[r]
            if self.require_cross_org:
                for r in rows:
                    s[r, lo[r] : hi[r]] = _FORBIDDEN
        a, b = np.searchsorted(self.forbid_rows, [start, stop])
        if b > a:
            s[self.forbid_rows[a:b] - start, self.forbid_cols[a:b]] = _FORBIDDEN
        return s

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        step = self.block_rows()
        for start in range(0, self.n, step):
            yield start, self.block(start, min(self.n, start + step))


def _sorted_unique(cands: Sequence[Candidate], role: str) -> list[Candidate]:
    out = sorted(cands, key=lambda c: c.enrollment_id)
    for x, y in zip(out, out[1:], strict=False):
        if x.enrollment_id == y.enrollment_id:
            raise ValueError(f"duplicate {role} enrollment id {x.enrollment_id}")
    return out


def _sparse_forbids(
    mentors: Sequence[Candidate], mentees: Sequence[Candidate], rules: MatchRules
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Person-level hard rules as (mentee row, mentor column, rule index) triples, sorted by row."""
    mentor_cols: dict[str, list[int]] = {}
    for j, c in enumerate(mentors):
        mentor_cols.setdefault(c.person_id, []).append(j)
    mentee_rows: dict[str, list[int]] = {}
    for i, c in enumerate(mentees):
        mentee_rows.setdefault(c.person_id, []).append(i)
    trip: list[tuple[int, int, int]] = []
    for i, c in enumerate(mentees):
        trip.extend((i, j, 0) for j in mentor_cols.get(c.person_id, ()))
        for p in c.not_with:
            trip.extend((i, j, 2) for j in mentor_cols.get(p, ()))
    for j, c in enumerate(mentors):
        for p in c.not_with:
            trip.extend((i, j, 1) for i in mentee_rows.get(p, ()))
    for mentor_p, mentee_p in rules.forbidden_pairs:
        for j in mentor_cols.get(mentor_p, ()):
            trip.extend((i, j, 3) for i in mentee_rows.get(mentee_p, ()))
    for a, b in rules.ended_early_pairs:
        for mentor_p, mentee_p in ((a, b), (b, a)):
            for j in mentor_cols.get(mentor_p, ()):
                trip.extend((i, j, 4) for i in mentee_rows.get(mentee_p, ()))
    if not trip:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    arr = np.array(sorted(set(trip)), np.int64)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def _build_problem(
    mentors: Sequence[Candidate], mentees: Sequence[Candidate], rules: MatchRules, allocs: _Allocations
) -> _Problem:
    """``mentors`` must already be the eligible ones; both lists sorted by enrollment id."""
    order = sorted(
        range(len(mentors)),
        key=lambda j: (not _is_school(mentors[j]), _org_key(mentors[j].organization), mentors[j].enrollment_id),
    )
    mentors = [mentors[j] for j in order]
    school_mentors = sum(1 for c in mentors if _is_school(c))
    ranges: dict[tuple[int, str], tuple[int, int]] = {}
    for j, c in enumerate(mentors):
        key = _org_key(c.organization)
        if key:
            group = 0 if j < school_mentors else 1
            lo, _ = ranges.get((group, key), (j, j))
            ranges[(group, key)] = (lo, j + 1)
    keys_a = [_org_key(c.organization) for c in mentees]
    org_lo = np.zeros((len(mentees), 2), np.int64)
    org_hi = np.zeros((len(mentees), 2), np.int64)
    for i, key in enumerate(keys_a):
        if key:
            for group in (0, 1):
                org_lo[i, group], org_hi[i, group] = ranges.get((group, key), (0, 0))
    a, bt = _encode(mentors, mentees, rules, allocs[1])
    grade_rows = np.array([i for i, c in enumerate(mentees) if _grade_mentee(c)], np.int64)
    a_grades, bt_grades = _encode(mentors[:school_mentors], [mentees[i] for i in grade_rows], rules, allocs[0])
    same_org_points = None
    if "cross_org" in allocs[1]:
        # Same-organization pairs were encoded like any other (full when the shared organization is a
        # neighbour, else half); take back down to what they earn: nothing, or the neutral half under "none".
        nb = {_org_key(o) for o in rules.neighbor_orgs}
        same_org_points = np.zeros((len(mentees), 2), np.float32)
        for i, key in enumerate(keys_a):
            for group, alloc in ((0, allocs[0] if _grade_mentee(mentees[i]) else allocs[1]), (1, allocs[1])):
                full = alloc.get("cross_org", 0)
                kept = full // 2 if rules.cross_org == "none" else 0
                same_org_points[i, group] = (full if key and key in nb else full // 2) - kept
    rows, cols, _ = _sparse_forbids(mentors, mentees, rules)
    return _Problem(
        mentees,
        mentors,
        a,
        bt,
        grade_rows,
        a_grades,
        bt_grades,
        school_mentors,
        org_lo,
        org_hi,
        same_org_points,
        rules.cross_org == "require",
        rows,
        cols,
    )


@dataclass(frozen=True)
class ScoreBlocks:
    """Pair scores of a whole pool, produced in blocks of mentee rows to bound memory.

    ``mentee_ids`` and ``mentor_ids`` give the enrollment id of each row and column (both sorted);
    values are milli-points (score x 1000) and -1 for a forbidden pair (every hard rule, capacity
    included).
    """

    mentee_ids: np.ndarray
    mentor_ids: np.ndarray
    _problem: _Problem
    _positions: np.ndarray

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        for start, block in self._problem.blocks():
            out = np.full((block.shape[0], len(self.mentor_ids)), _FORBIDDEN, np.float32)
            out[:, self._positions] = block
            yield start, out


def score_blocks(mentors: Sequence[Candidate], mentees: Sequence[Candidate], rules: MatchRules) -> ScoreBlocks:
    """All pair scores, rows and columns sorted by enrollment id (for baselines, reports and tests)."""
    mentors = _sorted_unique(mentors, "mentor")
    mentees = _sorted_unique(mentees, "mentee")
    eligible = [c for c in mentors if c.years_experience >= rules.min_mentor_years and c.remaining_capacity > 0]
    problem = _build_problem(eligible, mentees, rules, _allocations(rules))
    column_of = {c.enrollment_id: j for j, c in enumerate(mentors)}
    positions = np.array([column_of[c.enrollment_id] for c in problem.mentors], np.int64)
    return ScoreBlocks(
        np.array([c.enrollment_id for c in mentees], np.int64),
        np.array([c.enrollment_id for c in mentors], np.int64),
        problem,
        positions,
    )


# --------------------------------------------------------------------------------------------------
# Solver: min-cost flow on (pruned) candidate edges, certified with LP duality
# --------------------------------------------------------------------------------------------------


def _solve_flow(
    n: int, m: int, rows: np.ndarray, cols: np.ndarray, points: np.ndarray, caps: np.ndarray, big: int
) -> np.ndarray:
    """Optimal 0/1 flow on each candidate edge: one extra match always beats any score difference."""
    e = len(rows)
    source, sink = n + m, n + m + 1
    tails = np.concatenate([np.full(n, source), rows, n + np.arange(m), [source]]).astype(np.int32)
    heads = np.concatenate([np.arange(n), n + cols, np.full(m, sink), [sink]]).astype(np.int32)
    capacities = np.concatenate([np.ones(n + e), caps, [n]]).astype(np.int64)
    costs = np.concatenate([np.zeros(n), -(big + points), np.zeros(m), [0]]).astype(np.int64)
    smcf = min_cost_flow.SimpleMinCostFlow()
    smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
    supplies = np.zeros(n + m + 2, np.int64)
    supplies[source], supplies[sink] = n, -n
    smcf.set_nodes_supplies(np.arange(n + m + 2, dtype=np.int32), supplies)
    status = smcf.solve()
    if status != smcf.OPTIMAL:
        raise RuntimeError(f"min-cost flow solver failed with status {status}")
    return smcf.flows(np.arange(n, n + e, dtype=np.int32)).astype(bool)


def _potentials(
    n: int, m: int, rows: np.ndarray, cols: np.ndarray, points: np.ndarray, flow: np.ndarray, caps: np.ndarray, big: int
) -> np.ndarray:
    """Node potentials with non-negative reduced costs on every residual arc.

    They are shortest-path distances in the residual graph from a virtual root joined to every node
    (Bellman-Ford, one vectorized relaxation of all arcs per pass); they exist because the flow is
    optimal (no negative cycle). Nodes: mentees 0..n-1, mentors n..n+m-1, source n+m, sink n+m+1.
    """
    source, sink = n + m, n + m + 1
    matched = np.zeros(n, bool)
    matched[rows[flow]] = True
    load = np.bincount(cols[flow], minlength=m)
    w = (big + points).astype(np.float64)
    mentor_nodes = n + np.arange(m)
    free, used = load < caps, load > 0
    total = int(matched.sum())
    tails = [
        np.where(flow, n + cols, rows),
        np.where(matched, np.arange(n), source),
        mentor_nodes[free],
        np.full(int(used.sum()), sink),
        np.array([source] if total > 0 else [], np.int64),
        np.array([sink] if total < n else [], np.int64),
    ]
    heads = [
        np.where(flow, rows, n + cols),
        np.where(matched, source, np.arange(n)),
        np.full(int(free.sum()), sink),
        mentor_nodes[used],
        np.array([sink] if total > 0 else [], np.int64),
        np.array([source] if total < n else [], np.int64),
    ]
    t = np.concatenate(tails).astype(np.int64)
    h = np.concatenate(heads).astype(np.int64)
    c = np.concatenate([np.where(flow, w, -w), np.zeros(len(t) - len(flow))])  # only edges cost anything
    order = np.argsort(h, kind="stable")
    t, h, c = t[order], h[order], c[order]
    starts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]]) if len(h) else np.zeros(0, np.int64)
    targets = h[starts]
    dist = np.zeros(n + m + 2)
    for _ in range(n + m + 3):
        best = np.minimum.reduceat(dist[t] + c, starts) if len(starts) else np.zeros(0)
        improved = best < dist[targets]
        if not improved.any():
            return dist
        dist[targets[improved]] = best[improved]
    raise RuntimeError("negative cycle in the residual graph: the flow is not optimal")


def _select_edges(problem: _Problem, top_k: int, top_mentees: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """First pass: each mentee's ``top_k`` best allowed mentors plus, for each mentor, good mentees.

    The per-mentor candidates keep every mentor's capacity reachable even when nobody ranks it in
    their top ``top_k``: the rows are cut into about ``3 * top_mentees`` groups, each mentor keeps its
    favourite mentee of each group, and the best ``top_mentees`` of those are kept. Any edge missed
    here is found by the certificate; this only saves solver rounds.
    """
    n, m = problem.n, problem.m
    rows_l: list[np.ndarray] = []
    cols_l: list[np.ndarray] = []
    pts_l: list[np.ndarray] = []
    allowed = 0
    k = min(top_k, m)
    group = max(1, math.ceil(n / max(1, 3 * top_mentees))) if top_mentees and k < m else 0
    best_rows: list[np.ndarray] = []
    best_vals: list[np.ndarray] = []
    step = problem.block_rows()
    if group:
        step = max(group, step // group * group)  # whole groups per block
    for start in range(0, n, step):
        s = problem.block(start, min(n, start + step))
        allowed += int(np.count_nonzero(s >= 0))
        if k >= m:
            r, c = np.nonzero(s >= 0)
        else:
            part = np.argpartition(s, m - k, axis=1)[:, m - k :]
            keep = np.take_along_axis(s, part, axis=1) >= 0
            r = np.nonzero(keep)[0]
            c = part[keep]
        rows_l.append(r + start)
        cols_l.append(c)
        pts_l.append(s[r, c])
        if group:
            for g0 in range(0, s.shape[0], group):
                sub = s[g0 : g0 + group]
                arg = sub.argmax(axis=0)
                best_rows.append(arg + start + g0)
                best_vals.append(sub[arg, np.arange(m)])
    if best_rows:
        vals = np.stack(best_vals)
        rws = np.stack(best_rows)
        if vals.shape[0] > top_mentees:
            sel = np.argpartition(vals, vals.shape[0] - top_mentees, axis=0)[-top_mentees:]
            vals = np.take_along_axis(vals, sel, axis=0)
            rws = np.take_along_axis(rws, sel, axis=0)
        keep = vals >= 0
        rows_l.append(rws[keep])
        cols_l.append(np.broadcast_to(np.arange(m), vals.shape)[keep])
        pts_l.append(vals[keep])
    if not rows_l:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, 0
    rows, cols, pts = _dedupe(
        np.concatenate(rows_l).astype(np.int64), np.concatenate(cols_l).astype(np.int64), np.concatenate(pts_l), m
    )
    return rows, cols, pts, allowed


def _dedupe(rows: np.ndarray, cols: np.ndarray, pts: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique edges sorted by (row, column): a fixed arc order keeps the solver deterministic."""
    keys = rows * m + cols
    keys, first = np.unique(keys, return_index=True)
    return keys // m, keys % m, np.rint(pts[first]).astype(np.int64)


def _violating_edges(
    problem: _Problem, pi: np.ndarray, big: int, edge_keys: np.ndarray, per_row: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pruned allowed edges with negative reduced cost: points > pi[i] - pi[j] - BIG (at most ``per_row``).

    Checked for every mentee x mentor pair, one block of rows at a time. The potentials are shifted
    and clipped (a row that cannot be violated by any score in [0, TOTAL_POINTS] stays so), which
    usually lets the test run exactly in float32.
    """
    n, m = problem.n, problem.m
    if not n or not m:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    row_bound = pi[:n] - big
    col_pot = pi[n : n + m].copy()
    shift = row_bound.min()
    row_bound -= shift
    col_pot -= shift
    # Clip without changing any outcome: score + col > row with 0 <= score <= TOTAL_POINTS.
    row_bound = np.clip(row_bound, col_pot.min() - 1, col_pot.max() + TOTAL_POINTS + 1)
    col_pot = np.clip(col_pot, row_bound.min() - TOTAL_POINTS - 1, row_bound.max() + 1)
    exact32 = max(np.abs(row_bound).max(), np.abs(col_pot).max()) + TOTAL_POINTS < 2**23
    dtype = np.float32 if exact32 else np.float64
    col_pot_t = col_pot.astype(dtype)
    row_bound_t = row_bound.astype(dtype)
    rows_l, cols_l, pts_l = [], [], []
    step = problem.block_rows()
    for start in range(0, n, step):
        stop = min(n, start + step)
        s = problem.block(start, stop)
        slack = s + col_pot_t[None, :] if dtype is np.float64 else np.add(s, col_pot_t[None, :], out=s)
        r, c = np.nonzero(slack > row_bound_t[start:stop, None])
        if not len(r):
            continue
        pts = slack[r, c] - col_pot_t[c]  # exact: integers well inside the mantissa
        amount = slack[r, c] - row_bound_t[start + r]
        keep = pts >= 0  # forbidden pairs (-1) never count
        keys = (r + start) * m + c
        if len(edge_keys):
            pos = np.minimum(np.searchsorted(edge_keys, keys), len(edge_keys) - 1)
            keep &= edge_keys[pos] != keys
        r, c, pts, amount = r[keep], c[keep], pts[keep], amount[keep]
        if not len(r):
            continue
        order = np.lexsort((c, -amount, r))
        r, c, pts = r[order], c[order], pts[order]
        first = np.searchsorted(r, r, side="left")
        keep = (np.arange(len(r)) - first) < per_row
        rows_l.append(r[keep] + start)
        cols_l.append(c[keep])
        pts_l.append(pts[keep].astype(np.float32))
    if not rows_l:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0, np.float32)
    return np.concatenate(rows_l), np.concatenate(cols_l), np.concatenate(pts_l)


def _auto_top_k(n: int, m: int, slots: int) -> int:
    """Enough mentors per mentee that competition for popular mentors rarely needs another round."""
    demand = n / max(1, slots)
    return int(min(m, max(12, math.ceil(6 * demand))))


# --------------------------------------------------------------------------------------------------
# Waitlist reasons
# --------------------------------------------------------------------------------------------------


def _away_words(paused: int, deactivated: int, adjective: str) -> str:
    """Enrolled mentors the caller left out of the pool, in words ("" when none).

    E.g. "2 enrolled mentors are paused and 1 has a deactivated Slack account": a coordinator can wait for
    them or ask them back, which is not the same as recruiting.
    """
    kinds = (
        (paused, "is paused", "are paused"),
        (deactivated, "has a deactivated Slack account", "have deactivated Slack accounts"),
    )
    words: list[str] = []
    for count, one, many in kinds:
        if count > 0:
            noun = "" if words else f" {adjective} mentor" + ("" if count == 1 else "s")
            words.append(f"{count}{noun} {one if count == 1 else many}")
    return " and ".join(words)


def _too_few_years_words(mentors: Sequence[Candidate], years_ok: np.ndarray, min_years: int) -> list[str]:
    """Mentors under the program's minimum, counted by kind of library: "2 have under 3 years in school libraries".

    Years are counted in each mentor's own kind of library, so the sentence names it; the most common comes first.
    """
    kinds: dict[str, int] = {}
    for c, ok in zip(mentors, years_ok.tolist(), strict=True):
        if not ok:
            kind = _norm(c.library_type)
            kinds[kind] = kinds.get(kind, 0) + 1
    return [
        f"{count} {'has' if count == 1 else 'have'} under {years_in_kind(min_years, kind)}"
        for kind, count in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _waitlist(
    waiting: list[Candidate],
    all_mentors: list[Candidate],
    rules: MatchRules,
    labels: Mapping[str, str] | None,
    paused_mentors: int = 0,
    deactivated_mentors: int = 0,
) -> tuple[list[Waitlisted], dict[str, int]]:
    """Plain-words reason for each waitlisted mentee, and the specializations mentors are missing for.

    ``paused_mentors`` and ``deactivated_mentors`` are enrolled mentors kept out of ``all_mentors``; they
    are named so that "nobody is enrolled" is said only when it is true.
    """
    labels = labels or {}

    def label(s: str) -> str:
        return labels.get(s) or s.replace("_", " ")

    shortages: dict[str, int] = {}
    for c in waiting:
        for s in c.specializations:
            shortages[s] = shortages.get(s, 0) + 1
    shortages = dict(sorted(shortages.items(), key=lambda kv: (-kv[1], kv[0])))
    if not waiting:
        return [], shortages
    away = _away_words(paused_mentors, deactivated_mentors, "other" if all_mentors else "enrolled")
    if not all_mentors:
        reason = f"No mentor is available: {away}" if away else "No mentors are enrolled in this program yet"
        return [Waitlisted(c.enrollment_id, reason) for c in waiting], shortages
    also = f"; {away}" if away else ""

    m = len(all_mentors)
    offered_anywhere = {s for c in all_mentors for s in c.specializations}
    years_ok = np.array([c.years_experience >= rules.min_mentor_years for c in all_mentors], bool)
    too_few_years = _too_few_years_words(all_mentors, years_ok, rules.min_mentor_years)
    org_codes: dict[str, int] = {}
    org_b = np.array([org_codes.setdefault(_org_key(c.organization), len(org_codes)) for c in all_mentors])
    org_b[[not _org_key(c.organization) for c in all_mentors]] = -1  # unlisted: never the same
    org_a = np.array([org_codes.get(_org_key(c.organization), -2) if _org_key(c.organization) else -2 for c in waiting])
    require = rules.cross_org == "require"
    same_org_ok = np.bincount(org_b[years_ok & (org_b >= 0)], minlength=len(org_codes) + 1)
    specs = sorted({s for c in waiting for s in c.specializations})
    spec_idx = {s: k for k, s in enumerate(specs)}
    offers = np.zeros((m, max(1, len(specs))), np.float32)
    for j, c in enumerate(all_mentors):
        for s in c.specializations:
            if s in spec_idx:
                offers[j, spec_idx[s]] = 1
    f_rows, f_cols, f_rule = _sparse_forbids(all_mentors, waiting, rules)
    phrases = {
        0: "{k} is their own mentor enrollment",
        1: "{k} asked not to mentor them",
        2: "they asked not to be paired with {k}",
        3: "{k} mentored them before",
        4: "{k} had a pairing with them in an earlier program that was ended early",
    }
    out: list[Waitlisted] = []
    step = max(1, _BLOCK_CELLS // m)
    for start in range(0, len(waiting), step):
        chunk = waiting[start : start + step]
        compat = np.broadcast_to(years_ok, (len(chunk), m)).copy()
        if require:
            compat &= org_a[start : start + len(chunk), None] != org_b[None, :]
        lo, hi = np.searchsorted(f_rows, [start, start + len(chunk)])
        compat[f_rows[lo:hi] - start, f_cols[lo:hi]] = False
        has_compat = compat.any(axis=1)
        covered = (compat.astype(np.float32) @ offers) > 0
        for r, c in enumerate(chunk):
            if has_compat[r]:
                # "Compatible" would read as "offers what they seek" too; these mentors may not (said after).
                reason = "Every mentor they could be paired with is at capacity"
                if c.specializations and not any(covered[r, spec_idx[s]] for s in c.specializations):
                    missing = sorted(c.specializations)
                    nowhere = [s for s in missing if s not in offered_anywhere]
                    if nowhere:
                        reason += f"; besides, no mentor in the program offers {', '.join(label(s) for s in nowhere)}"
                    else:
                        reason += f"; besides, none of those mentors offers {', '.join(label(s) for s in missing)}"
                out.append(Waitlisted(c.enrollment_id, reason + also))
                continue
            parts: list[str] = []
            parts.extend(too_few_years)
            code = int(org_a[start + r])
            if require and code >= 0 and same_org_ok[code]:
                k = int(same_org_ok[code])
                parts.append(
                    f"{k} {'is' if k == 1 else 'are'} in the same organization (cross-organization pairs are required)"
                )
            a, b = np.searchsorted(f_rows, [start + r, start + r + 1])
            counted: set[int] = set()
            by_rule: dict[int, int] = {}
            for j, rule in zip(f_cols[a:b].tolist(), f_rule[a:b].tolist(), strict=True):
                if j in counted or not years_ok[j] or (require and code >= 0 and org_b[j] == code):
                    continue
                counted.add(j)
                by_rule[rule] = by_rule.get(rule, 0) + 1
            parts.extend(phrases[rule].format(k=by_rule[rule]) for rule in sorted(by_rule))
            reason = "No compatible mentor: " + ("; ".join(parts) or "none enrolled")
            out.append(Waitlisted(c.enrollment_id, reason + also))
    return out, shortages


# --------------------------------------------------------------------------------------------------
# match()
# --------------------------------------------------------------------------------------------------


def match(
    mentors: Sequence[Candidate],
    mentees: Sequence[Candidate],
    rules: MatchRules,
    *,
    strategy: Literal["auto", "full", "pruned"] = "auto",
    top_k: int | None = None,
    top_mentees: int | None = None,
    names: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    paused_mentors: int = 0,
    deactivated_mentors: int = 0,
) -> MatchResult:
    """Propose pairs for a whole pool: most mentees matched, then the highest total score.

    ``strategy="full"`` solves on every allowed pair; ``"pruned"`` keeps each mentee's ``top_k`` best
    mentors (and each mentor's ``top_mentees`` best mentees) and certifies the result against every
    allowed pair; ``"auto"`` picks full for small pools. Both give an optimal assignment.
    Deterministic: inputs are sorted by enrollment id and ties are broken by that order.
    ``paused_mentors`` and ``deactivated_mentors`` count enrolled mentors the caller left out of
    ``mentors``; they only change the waitlist reasons' words.
    """
    began = time.perf_counter()
    all_mentors = _sorted_unique(mentors, "mentor")
    mentees_s = _sorted_unique(mentees, "mentee")
    allocs = _allocations(rules)
    eligible = [c for c in all_mentors if c.years_experience >= rules.min_mentor_years and c.remaining_capacity > 0]
    problem = _build_problem(eligible, mentees_s, rules, allocs)
    n, m = problem.n, problem.m
    caps = np.array([c.remaining_capacity for c in problem.mentors], np.int64)
    slots = int(caps.sum())
    big = TOTAL_POINTS * max(1, min(n, slots)) + 1

    pruned = strategy == "pruned" or (strategy == "auto" and n * m > FULL_GRAPH_MAX_PAIRS)
    if top_k is None:
        top_k = _auto_top_k(n, m, slots)
    if top_mentees is None:
        top_mentees = int(min(n, 2 * caps.max(initial=0) + 2))
    if not pruned:
        top_k, top_mentees = m, 0
    rounds = 0
    flow = np.zeros(0, bool)
    rows = cols = pts = np.zeros(0, np.int64)
    allowed = 0
    if n and m:
        rows, cols, pts, allowed = _select_edges(problem, max(1, top_k), max(0, top_mentees))
        while True:
            rounds += 1
            flow = _solve_flow(n, m, rows, cols, pts, caps, big)
            if not pruned or top_k >= m:
                break
            pi = _potentials(n, m, rows, cols, pts, flow, caps, big)
            add_r, add_c, add_p = _violating_edges(problem, pi, big, rows * m + cols, per_row=max(4, top_k))
            if not len(add_r):
                break
            rows, cols, pts = _dedupe(
                np.concatenate([rows, add_r]),
                np.concatenate([cols, add_c]),
                np.concatenate([pts.astype(np.float32), add_p]),
                m,
            )

    pairs: list[ProposedPair] = []
    matched_rows = set()
    total_milli = 0
    for i, j, p in zip(rows[flow], cols[flow], pts[flow], strict=True):
        mentor, mentee = problem.mentors[int(j)], problem.mentees[int(i)]
        detail = _pair_score(mentor, mentee, rules, allocs, _Words(mentor, mentee, names, labels))
        if detail.milli_points != int(p):  # the two scoring paths must agree exactly
            raise RuntimeError(f"score mismatch for {mentor.enrollment_id}/{mentee.enrollment_id}")
        pairs.append(
            ProposedPair(mentor.enrollment_id, mentee.enrollment_id, detail.score, detail.reasons, detail.milli_points)
        )
        matched_rows.add(int(i))
        total_milli += detail.milli_points
    pairs.sort(key=lambda p: p.mentee_enrollment_id)
    waiting = [c for i, c in enumerate(mentees_s) if i not in matched_rows]
    waitlist, shortages = _waitlist(waiting, all_mentors, rules, labels, paused_mentors, deactivated_mentors)
    stats = MatchStats(
        mentees=n,
        mentors=len(all_mentors),
        eligible_mentors=m,
        open_slots=slots,
        matched=len(pairs),
        waitlisted=len(waitlist),
        total_milli_points=total_milli,
        total_score=round(total_milli / 1000, 1),
        mean_score=round(total_milli / 1000 / len(pairs), 1) if pairs else 0.0,
        allowed_pairs=allowed,
        graph_edges=len(rows),
        rounds=rounds,
        pruned=pruned,
        seconds=round(time.perf_counter() - began, 3),
    )
    return MatchResult(pairs, waitlist, shortages, stats)
