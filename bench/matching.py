"""Benchmark of the matching engine against a greedy baseline and the full-graph solver.

Run:  .venv/bin/python bench/matching.py [--sizes small,medium,large] [--seed 7]

Every case runs in a fresh subprocess so that peak memory (max RSS from ``resource.getrusage``) is
that case's own. Instances are random but reproducible (seeded): capacity 1-4 per mentor and about
30% of pairs forbidden through min mentor years, required cross-organization pairs and ``not_with``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.services.matching import Candidate, MatchRules, match, score_blocks  # noqa: E402

SIZES: dict[str, tuple[int, int]] = {"small": (500, 150), "medium": (5_000, 1_500), "large": (20_000, 5_000)}
SPECIALIZATIONS = [
    "youth_services",
    "teen_services",
    "reference",
    "cataloging",
    "collection_development",
    "school_instruction",
    "information_literacy",
    "outreach_programming",
    "management",
    "digital_services",
    "intellectual_freedom",
    "circulation",
    "archives_special_collections",
    "adult_services",
    "budgets_grants",
    "community_engagement",
    "accessibility",
    "data_assessment",
]
LIBRARY_TYPES = ("school", "public", "academic", "special")
FORMATS = ("in_person", "video", "phone", "any")
GRADES = ("elementary", "middle", "high")
OFFSETS = (-10.0, -9.0, -8.0, -7.0, -6.0, -5.0, -4.0, -3.5, 0.0, 1.0, 5.5)
ORGS = 10
# Peak bytes per allowed edge of the full-graph solve (measured: ~776 MB for 5.2M edges, medium case).
FULL_GRAPH_BYTES_PER_EDGE = 130


def make_instance(n_mentees: int, n_mentors: int, seed: int) -> tuple[list[Candidate], list[Candidate], MatchRules]:
    """A reproducible random program; some people are enrolled both as mentor and as mentee."""
    rng = np.random.default_rng(seed)

    def person(k: int, role: str, person_id: str, enrollment_id: int) -> Candidate:
        lib = LIBRARY_TYPES[rng.choice(4, p=[0.35, 0.35, 0.2, 0.1])]
        n_specs = int(rng.integers(1, 4)) if role == "mentee" else int(rng.integers(2, 6))
        specs = frozenset(rng.choice(SPECIALIZATIONS, n_specs, replace=False).tolist())
        grades = (
            frozenset(rng.choice(GRADES, int(rng.integers(1, 3)), replace=False).tolist())
            if lib == "school"
            else frozenset()
        )
        years = int(rng.integers(0, 8)) if role == "mentee" else int(rng.choice([1, 2] + list(range(3, 31)) + [2] * 6))
        capacity = int(rng.integers(1, 5)) if role == "mentor" else 0
        return Candidate(
            enrollment_id=enrollment_id,
            person_id=person_id,
            library_type=lib,
            organization=f"District {int(rng.integers(ORGS)):02d}",
            region=f"Region {int(rng.integers(4))}",
            specializations=specs,
            years_experience=years,
            grade_levels=grades,
            meeting_format=FORMATS[int(rng.integers(4))],
            utc_offset_hours=float(OFFSETS[int(rng.integers(len(OFFSETS)))]),
            capacity=capacity,
            already_assigned=int(rng.integers(0, 2)) if capacity > 1 and rng.random() < 0.2 else 0,
        )

    mentors = [person(j, "mentor", f"U{j:07d}", 1_000_000 + j) for j in range(n_mentors)]
    mentee_people = [f"U{j:07d}" if j < n_mentors // 20 else f"U{n_mentors + j:07d}" for j in range(n_mentees)]
    mentees = [person(i, "mentee", p, 2_000_000 + i) for i, p in enumerate(mentee_people)]

    def with_not_with(cs: list[Candidate], others: list[Candidate]) -> list[Candidate]:
        out = []
        for c in cs:
            if rng.random() < 0.03:
                picks = rng.choice(len(others), int(rng.integers(1, 4)), replace=False)
                c = Candidate(**{**c.__dict__, "not_with": frozenset(others[int(k)].person_id for k in picks)})
            out.append(c)
        return out

    mentors = with_not_with(mentors, mentees)
    mentees = with_not_with(mentees, mentors)
    forbidden = frozenset(
        (mentors[int(rng.integers(n_mentors))].person_id, mentees[int(rng.integers(n_mentees))].person_id)
        for _ in range(n_mentees // 20)
    )
    rules = MatchRules(min_mentor_years=3, cross_org="require", forbidden_pairs=forbidden)
    order = rng.permutation(n_mentees)  # callers do not hand us sorted input
    return mentors, [mentees[int(k)] for k in order], rules


def greedy(mentors: list[Candidate], mentees: list[Candidate], rules: MatchRules) -> tuple[int, int]:
    """Baseline: each mentee in enrollment order takes the best mentor that still has room."""
    blocks = score_blocks(mentors, mentees, rules)
    by_id = {c.enrollment_id: c for c in mentors}
    room = np.array([by_id[int(e)].remaining_capacity for e in blocks.mentor_ids], np.int64)
    full = np.zeros(len(room), bool)
    full[room <= 0] = True
    matched = total = 0
    for _, block in blocks:
        for row in block:
            row = np.where(full, -1.0, row)
            j = int(np.argmax(row))
            if row[j] < 0:
                continue
            matched += 1
            total += int(row[j])
            room[j] -= 1
            if room[j] == 0:
                full[j] = True
    return matched, total


def allowed_pairs(mentors: list[Candidate], mentees: list[Candidate], rules: MatchRules) -> tuple[int, int]:
    """(allowed pairs among eligible mentors, forbidden pairs over all mentee x mentor pairs)."""
    allowed = 0
    for _, block in score_blocks(mentors, mentees, rules):
        allowed += int(np.count_nonzero(block >= 0))
    return allowed, len(mentors) * len(mentees) - allowed


def available_memory_bytes() -> float:
    """MemAvailable from /proc/meminfo (Linux); 2 GB where it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except OSError:
        pass
    return 2e9


def run_case(size: str, method: str, seed: int, max_full_bytes: float) -> dict[str, object]:
    """One measurement; called inside a fresh subprocess."""
    n, m = SIZES[size]
    mentors, mentees, rules = make_instance(n, m, seed)
    if method == "full":
        allowed, _ = allowed_pairs(mentors, mentees, rules)
        estimate = allowed * FULL_GRAPH_BYTES_PER_EDGE
        if estimate > max_full_bytes:
            return {"skipped": f"skipped (est. {estimate / 1e9:.0f} GB > --max-full-gb)"}
    began = time.perf_counter()
    extra: dict[str, object] = {}
    if method == "greedy":
        matched, milli = greedy(mentors, mentees, rules)
    else:
        result = match(mentors, mentees, rules, strategy="full" if method == "full" else "auto")
        matched, milli = result.stats.matched, result.stats.total_milli_points
        extra = {
            "rounds": result.stats.rounds,
            "edges": result.stats.graph_edges,
            "forbidden": 1 - result.stats.allowed_pairs / (n * m),
        }
    seconds = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mb": peak_mb, "matched": matched, "milli": milli, **extra}


def measure(size: str, method: str, seed: int, max_full_gb: float) -> dict[str, object]:
    cmd = [
        sys.executable,
        __file__,
        "--case",
        f"{size}:{method}",
        "--seed",
        str(seed),
        "--max-full-gb",
        str(max_full_gb),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="small,medium,large")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--max-full-gb",
        type=float,
        default=round(available_memory_bytes() * 0.6 / 1e9, 1),
        help="run the raw full-graph solver only when its estimated memory fits (default: 60%% of free memory)",
    )
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        size, method = args.case.split(":")
        print(json.dumps(run_case(size, method, args.seed, args.max_full_gb * 1e9)))
        return

    header = (
        f"{'case':<22}{'method':<10}{'time s':>9}{'peak MB':>9}{'matched':>9}{'total score':>14}"
        f"{'vs optimum':>12}{'time/greedy':>12}  notes"
    )
    print(header)
    print("-" * len(header))
    for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        n, m = SIZES[size]
        runs = {method: measure(size, method, args.seed, args.max_full_gb) for method in ("match", "greedy", "full")}
        optimum = runs["full"].get("milli") or runs["match"]["milli"]
        optimum_label = "full graph" if "milli" in runs["full"] else "match (certified)"
        for method in ("match", "greedy", "full"):
            r = runs[method]
            label = f"{size} {n}x{m}" if method == "match" else ""
            if "skipped" in r:
                print(f"{label:<22}{method:<10}{r['skipped']}")
                continue
            score = int(r["milli"]) / 1000
            ratio = int(r["milli"]) / int(optimum) if optimum else 1.0
            speed = float(r["seconds"]) / float(runs["greedy"]["seconds"])
            notes = ""
            if method == "match":
                notes = f"rounds={r['rounds']} edges={r['edges']:,} forbidden={float(r['forbidden']):.0%}"
            if method == "greedy":
                notes = f"vs {optimum_label}"
            print(
                f"{label:<22}{method:<10}{float(r['seconds']):>9.2f}{float(r['peak_mb']):>9.0f}{int(r['matched']):>9,}"
                f"{score:>14,.1f}{ratio:>12.5f}{speed:>12.2f}  {notes}"
            )


if __name__ == "__main__":
    main()
