"""Tests of the matching engine: scoring sentences, hard rules, waitlist reasons and optimality."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.services.matching import (
    CONCERN_MARK,
    Candidate,
    Forbidden,
    MatchResult,
    MatchRules,
    PairScore,
    explain_pair,
    match,
    score_blocks,
    split_reasons,
)


def mentor(eid: int, person: str = "", **kw: object) -> Candidate:
    base: dict[str, object] = {
        "library_type": "public",
        "organization": "Riverside Library System",
        "specializations": frozenset({"reference"}),
        "years_experience": 10,
        "meeting_format": "video",
        "utc_offset_hours": -5.0,
        "capacity": 2,
    }
    base.update(kw)
    return Candidate(enrollment_id=eid, person_id=person or f"UM{eid}", **base)  # type: ignore[arg-type]


def mentee(eid: int, person: str = "", **kw: object) -> Candidate:
    base: dict[str, object] = {
        "library_type": "public",
        "organization": "Lakeside ISD",
        "specializations": frozenset({"reference"}),
        "years_experience": 1,
        "meeting_format": "video",
        "utc_offset_hours": -5.0,
    }
    base.update(kw)
    return Candidate(enrollment_id=eid, person_id=person or f"UE{eid}", **base)  # type: ignore[arg-type]


def scored(result: PairScore | Forbidden) -> PairScore:
    assert isinstance(result, PairScore), getattr(result, "reason", result)
    return result


def component(score: PairScore, name: str):  # noqa: ANN201 - test helper
    return next(c for c in score.components if c.name == name)


# --------------------------------------------------------------------------------------------------
# Scoring and explanations
# --------------------------------------------------------------------------------------------------


def test_perfect_pair_scores_100_and_explains_every_component() -> None:
    score = scored(explain_pair(mentor(1), mentee(2), MatchRules()))
    assert score.score == 100.0 and score.milli_points == 100_000
    assert [c.name for c in score.components] == [
        "specialization",
        "library_type",
        "experience",
        "time_zone",
        "meeting_format",
    ]
    assert "Offers the specialization the mentee seeks: reference" in score.reasons
    assert "Both work in public libraries" in score.reasons
    assert "The mentor has 10 years in public libraries, 9 more than the mentee" in score.reasons
    assert "Same time zone" in score.reasons
    assert "Both prefer video meetings" in score.reasons


def test_specialization_sentence_names_the_mentee_and_the_covered_ones() -> None:
    a = mentor(1, specializations={"reference", "youth_services", "management"})
    b = mentee(2, person="UDANA", specializations={"reference", "youth_services", "cataloging"})
    score = scored(explain_pair(a, b, MatchRules(), names={"UDANA": "Dana"}))
    spec = component(score, "specialization")
    assert spec.sentence.startswith("Offers 2 of the 3 specializations Dana seeks: reference, youth services")
    assert "not cataloging" in spec.sentence
    assert spec.value == pytest.approx(2 / 3)
    assert spec.points == pytest.approx(40 * 2 / 3, abs=0.002)  # weight 4 of 10 active


def test_specialization_labels_and_neutral_when_nothing_sought() -> None:
    a = mentor(1, specializations={"cataloging"})
    labels = {"cataloging": "Cataloging and technical services"}
    none = scored(explain_pair(a, mentee(2, specializations=set()), MatchRules()))
    assert component(none, "specialization").value == 0.5
    assert "did not name specializations" in component(none, "specialization").sentence
    miss = scored(explain_pair(a, mentee(3, specializations={"reference"}), MatchRules(), labels=labels))
    assert (
        component(miss, "specialization").sentence == "Offers none of the specializations the mentee seeks (reference)"
    )
    hit = scored(explain_pair(a, mentee(4, specializations={"cataloging"}), MatchRules(), labels=labels))
    assert "Cataloging and technical services" in component(hit, "specialization").sentence


def test_experience_gap_partial_credit() -> None:
    rules = MatchRules(min_mentor_years=3)
    values = {}
    for mentee_years in (1, 2, 3, 4, 5):
        s = scored(explain_pair(mentor(1, years_experience=5), mentee(2, years_experience=mentee_years), rules))
        values[mentee_years] = component(s, "experience").value
    assert values == {1: 1.0, 2: 1.0, 3: pytest.approx(2 / 3, abs=1e-4), 4: pytest.approx(1 / 3, abs=1e-4), 5: 0.0}
    s = scored(explain_pair(mentor(1, years_experience=5), mentee(2, years_experience=4), rules))
    assert "only 1 more than the mentee (3 or more is ideal)" in component(s, "experience").sentence


def test_experience_counts_years_in_each_ones_kind_of_library() -> None:
    """Years are asked per kind of library: the sentence names it, and where the mentee's years were when the
    two work in different kinds."""
    names = {"UDANA": "Dana", "UELI": "Eli"}
    school = scored(
        explain_pair(
            mentor(1, person="UDANA", library_type="school", years_experience=6),
            mentee(2, person="UELI", library_type="school", years_experience=1),
            MatchRules(),
            names=names,
        )
    )
    assert component(school, "experience").sentence == "Dana has 6 years in school libraries, 5 more than Eli"
    mixed = scored(
        explain_pair(
            mentor(1, person="UDANA", library_type="public", years_experience=3),
            mentee(2, person="UELI", library_type=" School ", years_experience=3),
            MatchRules(),
            names=names,
        )
    )
    assert component(mixed, "experience").sentence == (
        "Dana has 3 years in public libraries, the same as Eli has in school libraries"
    )
    unlisted = scored(explain_pair(mentor(1, library_type="", years_experience=5), mentee(2), MatchRules()))
    assert component(unlisted, "experience").sentence == (
        "The mentor has 5 years in an unlisted type of library, 4 more than the mentee has in public libraries"
    )
    refused = explain_pair(mentor(1, library_type="school", years_experience=1), mentee(2), MatchRules())
    assert isinstance(refused, Forbidden)
    assert refused.reason == "The mentor has 1 year in school libraries; mentors in this program need at least 3"


def test_waitlist_counts_mentors_under_the_minimum_by_kind_of_library() -> None:
    mentors = [
        mentor(1, library_type="school", years_experience=1),
        mentor(2, library_type="public", years_experience=2),
        mentor(3, library_type="school", years_experience=2),
    ]
    [waiting] = match(mentors, [mentee(9)], MatchRules(min_mentor_years=3)).waitlist
    assert waiting.reason == (
        "No compatible mentor: 2 have under 3 years in school libraries; 1 has under 3 years in public libraries"
    )


def test_time_zone_distance() -> None:
    def tz(a: float, b: float) -> float:
        s = scored(explain_pair(mentor(1, utc_offset_hours=a), mentee(2, utc_offset_hours=b), MatchRules()))
        return component(s, "time_zone").value

    assert tz(-5, -5) == 1.0
    assert tz(-5, -8) == 0.5
    assert tz(5.5, 2.5) == 0.5
    assert tz(-5, 1) == 0.0 and tz(-10, 2) == 0.0
    s = scored(explain_pair(mentor(1, utc_offset_hours=-5), mentee(2, utc_offset_hours=-6.5), MatchRules()))
    assert component(s, "time_zone").sentence == "Time zones 1.5 hours apart"


def test_meeting_format_and_library_type() -> None:
    s = scored(explain_pair(mentor(1, meeting_format="any"), mentee(2, meeting_format="phone"), MatchRules()))
    assert component(s, "meeting_format").value == 1.0
    assert "open to any meeting format" in component(s, "meeting_format").sentence
    s = scored(explain_pair(mentor(1, meeting_format="in_person"), mentee(2, meeting_format="phone"), MatchRules()))
    assert component(s, "meeting_format").value == 0.0
    s = scored(explain_pair(mentor(1, library_type="academic"), mentee(2, library_type="school"), MatchRules()))
    assert (
        component(s, "library_type").sentence
        == "The mentor works in an academic library; the mentee in a school library"
    )


def test_grade_levels_only_for_school_librarians() -> None:
    school = {"library_type": "school"}
    s = scored(
        explain_pair(
            mentor(1, grade_levels={"middle", "high"}, **school),
            mentee(2, grade_levels={"elementary", "middle"}, **school),
            MatchRules(),
        )
    )
    grade = component(s, "grade_levels")
    assert grade.value == 0.5
    # In the intake form's words ("Middle school (6-8)"), never the stored id ("middle").
    assert grade.sentence == (
        "Shares 1 of the 2 grade levels the mentee serves: Middle school (6-8), not Elementary (K-5)"
    )
    assert grade.points == pytest.approx(100 / 11 / 2, abs=0.002)  # weight 1 of 11 active
    apart = scored(
        explain_pair(mentor(1, grade_levels={"high"}, **school), mentee(2, grade_levels={"elementary"}, **school),
                     MatchRules())
    )  # fmt: skip
    assert component(apart, "grade_levels").sentence == (
        "No shared grade levels: the mentor serves High school (9-12); the mentee Elementary (K-5)"
    )
    # Not applicable (not both school, or no grade levels listed): left out, weights renormalized.
    public = scored(explain_pair(mentor(1, grade_levels={"high"}), mentee(2, grade_levels={"high"}), MatchRules()))
    unlisted = scored(explain_pair(mentor(1, **school), mentee(2, **school), MatchRules()))
    for s in (public, unlisted):
        assert "grade_levels" not in {c.name for c in s.components}
        assert s.score == 100.0 and "grade" not in " ".join(s.reasons)


def test_weights_are_merged_and_zero_weight_components_are_left_out() -> None:
    rules = MatchRules(weights={"time_zone": 0, "specialization": 1})
    assert rules.weights["library_type"] == 2.0
    s = scored(explain_pair(mentor(1), mentee(2, utc_offset_hours=8), rules))
    assert "time_zone" not in {c.name for c in s.components}
    assert s.score == 100.0
    with pytest.raises(ValueError):
        MatchRules(weights={"charisma": 1})
    with pytest.raises(ValueError):
        MatchRules(cross_org="sometimes")  # type: ignore[arg-type]


def test_cross_org_prefer_rewards_other_and_neighbor_organizations() -> None:
    rules = MatchRules(cross_org="prefer", neighbor_orgs=frozenset({"Hillcrest District"}))
    same = scored(explain_pair(mentor(1, organization="Lakeside ISD"), mentee(2, organization=" lakeside isd "), rules))
    other = scored(explain_pair(mentor(1, organization="Riverside"), mentee(2, organization="Lakeside ISD"), rules))
    near = scored(
        explain_pair(mentor(1, organization="hillcrest district"), mentee(2, organization="Lakeside ISD"), rules)
    )
    values = [component(s, "cross_org").value for s in (same, other, near)]
    assert values == [0.0, 0.5, 1.0]
    assert same.score < other.score < near.score == 100.0
    assert component(near, "cross_org").sentence == (
        "The mentor is at hillcrest district, one of the neighbor organizations; the mentee is at Lakeside ISD"
    )
    assert "cross_org" not in {c.name for c in scored(explain_pair(mentor(1), mentee(2), MatchRules())).components}


def test_cross_org_require_still_prefers_a_mentor_from_a_neighbouring_organization() -> None:
    rules = MatchRules(cross_org="require", neighbor_orgs=frozenset({"Hillcrest District", "Lakeside ISD"}))
    solo = mentee(9, organization="Lakeside ISD")  # the mentee's own district is on the list too
    near = scored(explain_pair(mentor(1, organization="Hillcrest District"), solo, rules))
    far = scored(explain_pair(mentor(2, organization="Far Away USD"), solo, rules))
    assert component(near, "cross_org").value == 1.0 and component(far, "cross_org").value == 0.5
    assert near.score > far.score
    assert "is at Hillcrest District" in component(near, "cross_org").sentence
    result = match(
        [mentor(2, organization="Far Away USD", capacity=1), mentor(1, organization="Hillcrest District", capacity=1)],
        [solo],
        rules,
    )
    assert [(p.mentor_enrollment_id, p.mentee_enrollment_id) for p in result.pairs] == [(1, 9)]
    # Without a neighbour list "require" has nothing to rank on: every allowed pair is cross-organization.
    plain = scored(explain_pair(mentor(2, organization="Far Away USD"), solo, MatchRules(cross_org="require")))
    assert "cross_org" not in {c.name for c in plain.components}


def test_neighbour_bonus_is_for_the_mentors_organization_not_the_mentees() -> None:
    rules = MatchRules(cross_org="prefer", neighbor_orgs=frozenset({"Lakeside ISD"}))
    listed_mentee = scored(
        explain_pair(mentor(1, organization="Riverside"), mentee(2, organization="Lakeside ISD"), rules)
    )
    assert component(listed_mentee, "cross_org").value == 0.5
    blocks = score_blocks([mentor(1, organization="Riverside")], [mentee(2, organization="Lakeside ISD")], rules)
    [(_, block)] = list(blocks)
    assert block[0, 0] == listed_mentee.milli_points


def test_neighbour_list_is_preferred_without_a_cross_org_rule() -> None:
    """The form's "Neighbouring organizations (preferred)" counts under "No rule" too; same org is no concern."""
    rules = MatchRules(neighbor_orgs=frozenset({"Hillcrest District", "Lakeside ISD"}))
    solo = mentee(9, organization="Lakeside ISD")  # the mentee's own district is listed: no bonus for that
    near = scored(explain_pair(mentor(1, organization="hillcrest district"), solo, rules))
    far = scored(explain_pair(mentor(2, organization="Riverside"), solo, rules))
    same = scored(explain_pair(mentor(3, organization="Lakeside ISD"), solo, rules))
    assert [component(s, "cross_org").value for s in (near, far, same)] == [1.0, 0.5, 0.5]
    assert near.score == 100.0 and far.score == same.score < near.score
    assert component(near, "cross_org").sentence == (
        "The mentor is at hillcrest district, one of the neighbor organizations; the mentee is at Lakeside ISD"
    )
    assert component(far, "cross_org").sentence == "The mentor is at Riverside, not one of the neighbor organizations"
    assert component(same, "cross_org").sentence == "Both are at Lakeside ISD"
    assert not any(r.startswith(CONCERN_MARK) for s in (near, far, same) for r in s.reasons)
    pool = [mentor(3, organization="Lakeside ISD", capacity=1), mentor(2, organization="Riverside", capacity=1)]
    pool.append(mentor(1, organization="Hillcrest District", capacity=1))
    result = match(pool, [solo], rules)
    assert [(p.mentor_enrollment_id, p.mentee_enrollment_id) for p in result.pairs] == [(1, 9)]
    assert any("one of the neighbor organizations" in r for r in result.pairs[0].reasons)
    [(_, block)] = list(score_blocks(pool, [solo], rules))
    assert block[0].tolist() == [near.milli_points, far.milli_points, same.milli_points]
    # A list of blanks is no list: nothing to prefer, so no organization component.
    blank = scored(explain_pair(mentor(1), solo, MatchRules(neighbor_orgs=frozenset({" "}))))
    assert "cross_org" not in {c.name for c in blank.components}


def test_concerns_are_marked_and_listed_after_the_strengths() -> None:
    """Sorting by points alone put every zero-point mismatch last, where a short list cut it off."""
    a = mentor(1, specializations={"cataloging"}, library_type="academic", meeting_format="in_person")
    score = scored(explain_pair(a, mentee(2), MatchRules()))
    strengths = [
        "The mentor has 10 years in academic libraries, 9 more than the mentee has in public libraries",
        "Same time zone",
    ]
    concerns = [  # most points missed first: specialization (weight 4), library type (2), format (1)
        CONCERN_MARK + "Offers none of the specializations the mentee seeks (reference)",
        CONCERN_MARK + "The mentor works in an academic library; the mentee in a public library",
        CONCERN_MARK + "Meeting formats differ: the mentor prefers in-person, the mentee prefers video",
    ]
    assert score.reasons == strengths + concerns
    assert split_reasons(score.reasons) == (strengths, concerns)
    assert [c.sentence for c in score.components if c.concern] == [c.removeprefix(CONCERN_MARK) for c in concerns]
    # Half credit is not a concern; less is (a 1-year experience gap earns a third).
    half = scored(explain_pair(mentor(1), mentee(2, specializations={"reference", "cataloging"}), MatchRules()))
    assert not component(half, "specialization").concern
    close = scored(explain_pair(mentor(1, years_experience=4), mentee(2, years_experience=3), MatchRules()))
    assert close.reasons[-1].startswith(CONCERN_MARK + "The mentor has 4 years in public libraries, only 1 more")


# --------------------------------------------------------------------------------------------------
# Hard rules
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mentor_kw", "mentee_kw", "rules", "rule", "words"),
    [
        ({"years_experience": 2}, {}, MatchRules(min_mentor_years=3), "min_mentor_years", "need at least 3"),
        ({"not_with": {"UE2"}}, {}, MatchRules(), "mentor_not_with", "asked not to be paired"),
        ({}, {"not_with": {"UM1"}}, MatchRules(), "mentee_not_with", "asked not to be paired"),
        ({}, {}, MatchRules(forbidden_pairs=frozenset({("UM1", "UE2")})), "repeat_pair", "paired before"),
        ({}, {}, MatchRules(ended_early_pairs=frozenset({("UM1", "UE2")})), "ended_early_elsewhere", "ended early"),
        ({}, {}, MatchRules(ended_early_pairs=frozenset({("UE2", "UM1")})), "ended_early_elsewhere", "ended early"),
        (
            {"organization": "Lakeside ISD "},
            {"organization": "LAKESIDE  isd"},
            MatchRules(cross_org="require"),
            "same_organization",
            "requires cross-organization pairs",
        ),
        ({"capacity": 2, "already_assigned": 2}, {}, MatchRules(), "capacity", "no open mentee slots (2 of 2 taken)"),
    ],
)
def test_each_hard_rule_forbids_the_pair(
    mentor_kw: dict[str, object], mentee_kw: dict[str, object], rules: MatchRules, rule: str, words: str
) -> None:
    result = explain_pair(mentor(1, **mentor_kw), mentee(2, **mentee_kw), rules)
    assert isinstance(result, Forbidden)
    assert result.rule == rule and words in result.reason
    outcome = match([mentor(1, **mentor_kw)], [mentee(2, **mentee_kw)], rules)
    assert outcome.pairs == [] and outcome.waitlist[0].mentee_enrollment_id == 2


def test_forbidden_lists_every_broken_rule_with_names() -> None:
    result = explain_pair(
        mentor(1, person="UANN", years_experience=1, not_with={"UBO"}),
        mentee(2, person="UBO"),
        MatchRules(),
        names={"UANN": "Ann", "UBO": "Bo"},
    )
    assert isinstance(result, Forbidden)
    assert [v.rule for v in result.violations] == ["min_mentor_years", "mentor_not_with"]
    assert result.reason == (
        "Ann has 1 year in public libraries; mentors in this program need at least 3; Ann asked not to be paired with Bo"
    )


def test_cross_org_require_is_case_insensitive_and_unlisted_orgs_never_match() -> None:
    rules = MatchRules(cross_org="require")
    assert isinstance(explain_pair(mentor(1, organization="A"), mentee(2, organization=" a "), rules), Forbidden)
    assert isinstance(explain_pair(mentor(1, organization=""), mentee(2, organization=""), rules), PairScore)


def test_person_enrolled_as_mentor_and_mentee_is_never_paired_with_self() -> None:
    both = "UBOTH"
    mentors = [mentor(1, person=both, capacity=1), mentor(3, capacity=1)]
    mentees = [mentee(2, person=both), mentee(4)]
    assert isinstance(explain_pair(mentors[0], mentees[0], MatchRules()), Forbidden)
    result = match(mentors, mentees, MatchRules())
    assert {(p.mentor_enrollment_id, p.mentee_enrollment_id) for p in result.pairs} == {(1, 4), (3, 2)}


# --------------------------------------------------------------------------------------------------
# Assignment, waitlist and shortages
# --------------------------------------------------------------------------------------------------


def test_cardinality_comes_before_score() -> None:
    # Mentor 1 is the better fit for both mentees, but only mentor 1 fits mentee 3; matching both wins.
    m1 = mentor(1, capacity=1)
    m2 = mentor(2, capacity=1, specializations=set(), library_type="academic", not_with={"UE3"})
    result = match([m1, m2], [mentee(3), mentee(4)], MatchRules())
    assert {(p.mentor_enrollment_id, p.mentee_enrollment_id) for p in result.pairs} == {(1, 3), (2, 4)}
    assert result.stats.matched == 2 and result.waitlist == []


def test_pairs_carry_score_and_reasons_from_explain_pair() -> None:
    mentors = [mentor(1, specializations={"cataloging"}), mentor(2)]
    mentees = [mentee(3), mentee(4, specializations={"cataloging"})]
    result = match(mentors, mentees, MatchRules(), names={"UE3": "Cleo"})
    by_mentee = {p.mentee_enrollment_id: p for p in result.pairs}
    assert by_mentee[3].mentor_enrollment_id == 2 and by_mentee[4].mentor_enrollment_id == 1
    explained = scored(explain_pair(mentors[1], mentees[0], MatchRules(), names={"UE3": "Cleo"}))
    assert by_mentee[3].score == explained.score and by_mentee[3].reasons == explained.reasons
    assert "Offers the specialization Cleo seeks: reference" in by_mentee[3].reasons
    assert result.stats.total_milli_points == sum(p.milli_points for p in result.pairs)


def test_waitlist_reasons_and_shortages() -> None:
    rules = MatchRules(min_mentor_years=3, cross_org="require")
    mentors = [
        mentor(1, organization="North", capacity=1, specializations={"reference"}),
        mentor(2, organization="South", years_experience=1, specializations={"cataloging"}),
    ]
    mentees = [
        mentee(10, organization="South", specializations={"reference"}),  # takes mentor 1
        mentee(11, organization="South", specializations={"cataloging"}),  # mentor 1 full; nobody offers it usable
        mentee(12, organization="North", specializations={"reference", "management"}),  # no compatible mentor
        mentee(13, organization="East", specializations={"reference"}, not_with={"UM1"}),
    ]
    result = match(mentors, mentees, rules, labels={"cataloging": "Cataloging"})
    assert [(p.mentor_enrollment_id, p.mentee_enrollment_id) for p in result.pairs] == [(1, 10)]
    reasons = {w.mentee_enrollment_id: w.reason for w in result.waitlist}
    assert (
        reasons[11]
        == "Every mentor they could be paired with is at capacity; besides, none of those mentors offers Cataloging"
    )
    assert reasons[12] == (
        "No compatible mentor: 1 has under 3 years in public libraries; "
        "1 is in the same organization (cross-organization pairs are required)"
    )
    assert reasons[13] == (
        "No compatible mentor: 1 has under 3 years in public libraries; they asked not to be paired with 1"
    )
    assert result.shortages == {"reference": 2, "cataloging": 1, "management": 1}
    assert list(result.shortages) == ["reference", "cataloging", "management"]


def test_waitlist_says_when_no_mentor_offers_a_specialization() -> None:
    result = match([mentor(1, capacity=1)], [mentee(2), mentee(3, specializations={"cataloging"})], MatchRules())
    assert (
        result.waitlist[0].reason
        == "Every mentor they could be paired with is at capacity; besides, no mentor in the program offers cataloging"
    )
    assert result.shortages == {"cataloging": 1}
    empty = match([], [mentee(2)], MatchRules())
    assert empty.waitlist[0].reason == "No mentors are enrolled in this program yet"


def test_waitlist_names_the_mentors_left_out_of_the_pool() -> None:
    """Paused or deactivated mentors are not "no mentors enrolled": the coordinator can wait for them."""

    def reason(mentors: list[Candidate], **away: int) -> str:
        return match(mentors, [mentee(2)], MatchRules(), **away).waitlist[0].reason

    assert reason([], paused_mentors=1) == "No mentor is available: 1 enrolled mentor is paused"
    assert reason([], paused_mentors=2, deactivated_mentors=1) == (
        "No mentor is available: 2 enrolled mentors are paused and 1 has a deactivated Slack account"
    )
    assert reason([], deactivated_mentors=2) == (
        "No mentor is available: 2 enrolled mentors have deactivated Slack accounts"
    )
    full = mentor(1, capacity=1, already_assigned=1)
    assert (
        reason([full], paused_mentors=1)
        == "Every mentor they could be paired with is at capacity; 1 other mentor is paused"
    )
    junior = mentor(1, years_experience=1)
    assert reason([junior], deactivated_mentors=1) == (
        "No compatible mentor: 1 has under 3 years in public libraries; 1 other mentor has a deactivated Slack account"
    )


def test_empty_inputs() -> None:
    result = match([], [], MatchRules())
    assert result.pairs == [] and result.waitlist == [] and result.shortages == {}
    assert match([mentor(1)], [], MatchRules()).stats.matched == 0
    with pytest.raises(ValueError):
        match([mentor(1), mentor(1)], [mentee(2)], MatchRules())


# --------------------------------------------------------------------------------------------------
# Property tests against brute force
# --------------------------------------------------------------------------------------------------

PEOPLE = [f"U{k}" for k in range(10)]
ORGS = ["North", "north ", "South", "East", ""]
SPECS = ["reference", "cataloging", "youth_services", "management"]
REGIONS = ["", "Inland Empire", "inland  empire", "Far North"]


@st.composite
def candidate(draw: st.DrawFn, eid: int, is_mentor: bool) -> Candidate:
    lib = draw(st.sampled_from(["school", "public", "academic", "special", ""]))
    return Candidate(
        enrollment_id=eid,
        person_id=draw(st.sampled_from(PEOPLE)),
        library_type=lib,
        organization=draw(st.sampled_from(ORGS)),
        region=draw(st.sampled_from(REGIONS)),
        specializations=frozenset(draw(st.sets(st.sampled_from(SPECS), max_size=3))),
        years_experience=draw(st.integers(0, 9)),
        grade_levels=frozenset(draw(st.sets(st.sampled_from(["elementary", "middle", "high"]), max_size=2))),
        meeting_format=draw(st.sampled_from(["in_person", "video", "phone", "any"])),
        utc_offset_hours=draw(st.sampled_from([-8.0, -5.0, -3.5, 0.0, 5.75])),
        capacity=draw(st.sampled_from([0, 1, 1, 2, 2])) if is_mentor else 0,
        already_assigned=draw(st.sampled_from([0, 0, 0, 1])) if is_mentor else 0,
        not_with=frozenset(draw(st.sampled_from([(), (), (), ("U0",), ("U1", "U2")]))),
    )


@st.composite
def instance(draw: st.DrawFn) -> tuple[list[Candidate], list[Candidate], MatchRules]:
    n_mentors = draw(st.integers(1, 4))
    n_mentees = draw(st.integers(1, 6))
    ids = draw(st.permutations(range(100, 100 + n_mentors + n_mentees)))
    mentors = [draw(candidate(ids[k], True)) for k in range(n_mentors)]
    mentees = [draw(candidate(ids[n_mentors + k], False)) for k in range(n_mentees)]
    weights = draw(st.dictionaries(st.sampled_from(["specialization", "time_zone", "cross_org"]), st.integers(0, 5)))
    rules = MatchRules(
        min_mentor_years=draw(st.integers(0, 3)),
        cross_org=draw(st.sampled_from(["none", "prefer", "require"])),
        neighbor_orgs=frozenset(draw(st.sets(st.sampled_from(ORGS), max_size=1))),
        forbidden_pairs=frozenset(
            draw(st.sets(st.tuples(st.sampled_from(PEOPLE), st.sampled_from(PEOPLE)), max_size=3))
        ),
        weights=weights,
    )
    return mentors, mentees, rules


def brute_force(mentors: Sequence[Candidate], mentees: Sequence[Candidate], rules: MatchRules) -> tuple[int, int]:
    """(most mentees matched, best total milli-points) over every assignment, from explain_pair alone."""
    options: list[list[tuple[int, int]]] = []
    for e in mentees:
        row = [(-1, 0)]
        for j, m in enumerate(mentors):
            result = explain_pair(m, e, rules)
            if isinstance(result, PairScore):
                row.append((j, result.milli_points))
        options.append(row)
    best = (0, 0)
    room = [m.remaining_capacity for m in mentors]
    for choice in itertools.product(*options):
        used = Counter(j for j, _ in choice if j >= 0)
        if any(used[j] > room[j] for j in used):
            continue
        best = max(best, (len(choice) - sum(1 for j, _ in choice if j < 0), sum(p for _, p in choice)))
    return best


def check_result(
    result: MatchResult, mentors: Sequence[Candidate], mentees: Sequence[Candidate], rules: MatchRules
) -> None:
    by_mentor = {m.enrollment_id: m for m in mentors}
    by_mentee = {e.enrollment_id: e for e in mentees}
    load = Counter(p.mentor_enrollment_id for p in result.pairs)
    assert all(load[j] <= by_mentor[j].remaining_capacity for j in load)
    paired = [p.mentee_enrollment_id for p in result.pairs]
    assert len(paired) == len(set(paired))
    assert set(paired) | {w.mentee_enrollment_id for w in result.waitlist} == set(by_mentee)
    assert not set(paired) & {w.mentee_enrollment_id for w in result.waitlist}
    for p in result.pairs:
        explained = explain_pair(by_mentor[p.mentor_enrollment_id], by_mentee[p.mentee_enrollment_id], rules)
        assert isinstance(explained, PairScore), explained
        assert explained.milli_points == p.milli_points and 0 <= p.score <= 100
        # Pruned, certified and full solves alike explain a pair in the same words as explain_pair.
        assert explained.reasons == p.reasons
    assert result.stats.total_milli_points == sum(p.milli_points for p in result.pairs)


def pair_set(result: MatchResult) -> set[tuple[int, int]]:
    return {(p.mentor_enrollment_id, p.mentee_enrollment_id) for p in result.pairs}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance(), st.randoms(use_true_random=False))
def test_matching_is_valid_optimal_and_deterministic(
    data: tuple[list[Candidate], list[Candidate], MatchRules], rnd: random.Random
) -> None:
    mentors, mentees, rules = data
    result = match(mentors, mentees, rules)
    check_result(result, mentors, mentees, rules)
    assert (result.stats.matched, result.stats.total_milli_points) == brute_force(mentors, mentees, rules)

    pruned = match(mentors, mentees, rules, strategy="pruned", top_k=1, top_mentees=0)
    check_result(pruned, mentors, mentees, rules)
    assert (pruned.stats.matched, pruned.stats.total_milli_points) == (
        result.stats.matched,
        result.stats.total_milli_points,
    )

    shuffled_mentors, shuffled_mentees = mentors[:], mentees[:]
    rnd.shuffle(shuffled_mentors)
    rnd.shuffle(shuffled_mentees)
    again = match(shuffled_mentors, shuffled_mentees, rules)
    assert again.pairs == result.pairs and again.waitlist == result.waitlist and again.shortages == result.shortages


@settings(max_examples=40, deadline=None)
@given(instance())
def test_score_blocks_agree_with_explain_pair(data: tuple[list[Candidate], list[Candidate], MatchRules]) -> None:
    mentors, mentees, rules = data
    blocks = score_blocks(mentors, mentees, rules)
    by_mentor = {m.enrollment_id: m for m in mentors}
    by_mentee = {e.enrollment_id: e for e in mentees}
    for start, block in blocks:
        for r, row in enumerate(block):
            e = by_mentee[int(blocks.mentee_ids[start + r])]
            for j, value in enumerate(row):
                explained = explain_pair(by_mentor[int(blocks.mentor_ids[j])], e, rules)
                expected = explained.milli_points if isinstance(explained, PairScore) else -1
                assert value == expected


# --------------------------------------------------------------------------------------------------
# Pruned + certified path on a medium instance
# --------------------------------------------------------------------------------------------------


def random_pool(n_mentees: int, n_mentors: int, seed: int) -> tuple[list[Candidate], list[Candidate], MatchRules]:
    rng = np.random.default_rng(seed)
    specs = ["reference", "cataloging", "youth_services", "management", "outreach", "archives", "budgets"]

    def one(eid: int, is_mentor: bool) -> Candidate:
        return Candidate(
            enrollment_id=eid,
            person_id=f"U{eid % 350}",  # some people are both mentor and mentee
            library_type=str(rng.choice(["school", "public", "academic", "special"])),
            organization=f"Org {int(rng.integers(6))}",
            specializations=frozenset(rng.choice(specs, int(rng.integers(1, 4)), replace=False).tolist()),
            years_experience=int(rng.integers(2, 20)) if is_mentor else int(rng.integers(0, 6)),
            grade_levels=frozenset(
                rng.choice(["elementary", "middle", "high"], int(rng.integers(0, 3)), replace=False).tolist()
            ),
            meeting_format=str(rng.choice(["in_person", "video", "phone", "any"])),
            utc_offset_hours=float(rng.choice([-8, -7, -6, -5, -3.5])),
            capacity=int(rng.integers(1, 4)) if is_mentor else 0,
            not_with=frozenset({f"U{int(rng.integers(350))}"}) if rng.random() < 0.1 else frozenset(),
        )

    mentors = [one(1000 + j, True) for j in range(n_mentors)]
    mentees = [one(5000 + i, False) for i in range(n_mentees)]
    rules = MatchRules(
        cross_org="prefer", neighbor_orgs=frozenset({"Org 1"}), forbidden_pairs=frozenset({("U1", "U2")})
    )
    return mentors, mentees, rules


@pytest.mark.parametrize(("top_k", "top_mentees"), [(2, 0), (3, 2)])
def test_pruned_and_certified_equals_full_graph(top_k: int, top_mentees: int) -> None:
    mentors, mentees, rules = random_pool(300, 80, seed=3)
    full = match(mentors, mentees, rules, strategy="full")
    pruned = match(mentors, mentees, rules, strategy="pruned", top_k=top_k, top_mentees=top_mentees)
    check_result(pruned, mentors, mentees, rules)
    assert pruned.stats.pruned and pruned.stats.rounds >= 2
    assert pruned.stats.graph_edges < full.stats.graph_edges
    assert (pruned.stats.matched, pruned.stats.total_milli_points) == (
        full.stats.matched,
        full.stats.total_milli_points,
    )
    assert pruned.stats.matched == min(300, full.stats.open_slots) or pruned.waitlist


def test_pruned_finds_larger_matchings_hidden_by_pruning() -> None:
    # Every mentee's favourite is the same mentor: with top_k=1 only that edge survives the pruning,
    # so the certificate has to bring back the edges that let everyone be matched.
    star = mentor(1, capacity=1, specializations={"reference", "cataloging"})
    others = [mentor(j, capacity=1, specializations=set(), library_type="academic") for j in range(2, 6)]
    mentees = [mentee(10 + i) for i in range(5)]
    result = match([star, *others], mentees, MatchRules(), strategy="pruned", top_k=1, top_mentees=0)
    assert result.stats.matched == 5 and result.stats.rounds >= 2


def test_in_person_pairs_score_their_region() -> None:
    """The form asks for a region so that people who want to meet in person meet someone near."""
    near = scored(
        explain_pair(
            mentor(1, meeting_format="any", region="Inland Empire"),
            mentee(2, meeting_format="in_person", region="inland  empire"),
            MatchRules(),
        )
    )
    far = scored(
        explain_pair(
            mentor(1, meeting_format="in_person", region="Far North"),
            mentee(2, meeting_format="in_person", region="Inland Empire"),
            MatchRules(),
        )
    )
    unknown = scored(
        explain_pair(mentor(1, meeting_format="in_person"), mentee(2, meeting_format="in_person"), MatchRules())
    )
    assert component(near, "meeting_format").value == 1.0 and "both in inland  empire" not in near.reasons[0]
    assert near.reasons[0].endswith("both in inland empire")
    assert component(far, "meeting_format").value == 0.0
    assert far.reasons[-1] == (
        CONCERN_MARK + "Both prefer in-person meetings, but the mentor is in Far North and the mentee in Inland Empire"
    )
    assert component(unknown, "meeting_format").value == 1.0 and near.score == unknown.score > far.score
    video = scored(
        explain_pair(
            mentor(1, meeting_format="video", region="Far North"),
            mentee(2, meeting_format="video", region="Inland Empire"),
            MatchRules(),
        )
    )
    assert component(video, "meeting_format").value == 1.0  # distance does not matter on a video call
