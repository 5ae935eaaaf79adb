"""Ack latency of `shelfmate run --http` under 50 concurrent Slack clients, beside a bare Bolt app.

Run:  .venv/bin/python bench/ack_latency.py            # full: 2 rounds x 20 s per app and scenario
      .venv/bin/python bench/ack_latency.py --quick    # about a minute: 600 requests per app and scenario
      .venv/bin/python bench/ack_latency.py --database-url postgresql+psycopg://user:pw@host/db --reset

What runs:
- the Slack Web API emulator (tests/slack_emulator.py) in its own process, so that its threads do not
  compete for this process's GIL with the load generator;
- the real bot as a subprocess: `python -m bot.cli run --http --port N` with SLACK_API_URL pointing at
  the emulator and DATABASE_URL at a temporary SQLite file (or --database-url), seeded with 10,000
  participants and 3,000 active pairings (with agreements and check-ins, so the scheduler has nothing new
  to send: its 60-second tick still re-plans every pairing);
- a bare Bolt AsyncApp on the same stack (uvicorn + bot/web.py's Starlette adapter) whose listeners only
  ack, as a subprocess of this script (`--serve-bare`);
- 50 concurrent clients (aiohttp, closed loop) sending signed `/mentor status`, `/mentor help`, the Home
  tab's Pause button (shelfmate_pause), a nudge's "Not yet" button (shelfmate_not_yet) and intake modal
  submissions (shelfmate_intake, join mode), in rotation.

Scenarios: Slack answering at once, then every Web API call (and response_url post) delayed 2 s by the
emulator. The two apps are measured alternately in the same run (bare, bot, then bot, bare...), so the
ratios compare like with like on a busy 2-core machine. Latency is measured at the client: request sent
to response read. Peak memory of the bot (VmHWM from /proc) is printed idle and after each scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BOT_TOKEN = "xoxb-bench-token"
SIGNING_SECRET = "benchSigningSecret0123456789"
TEAM_ID = "T0SHELF01"
APP_ID = "A0SHELF01"
ADMIN_CHANNEL = "C0ADMINS01"
PROGRAM_TZ = "America/Los_Angeles"
SLACK_DEADLINE = 3.0
KINDS = ("status", "help", "pause", "not_yet", "intake")


# ----------------------------------------------------------------------------------------------------------
# The emulator in a child process, driven through a pipe (fanout.py uses this too).
# ----------------------------------------------------------------------------------------------------------
def _emulator_main(conn: Any, token: str) -> None:
    from tests.slack_emulator import SlackEmulator

    emu = SlackEmulator(token=token).start()
    conn.send(emu.api_url)

    def stats() -> dict[str, Any]:
        with emu._lock:
            calls = list(emu.calls)
            violations = list(emu.violations)
        by_method: Counter[str] = Counter()
        statuses: Counter[str] = Counter()
        for call in calls:
            by_method[call.method] += 1
            key = f"{call.method} {call.status}" + ("" if call.status != 200 or call.ok else " ok=false")
            statuses[key] += 1
        return {
            "calls": len(calls),
            "by_method": dict(by_method),
            "statuses": dict(statuses),
            "violations": len(violations),
            "violation_samples": violations[:5],
        }

    def delivered() -> dict[int, int]:
        """Delivery ids carried by chat.postMessage calls that Slack accepted (ok: true)."""
        landed: Counter[int] = Counter()
        with emu._lock:
            calls = [c for c in emu.calls if c.method == "chat.postMessage" and c.ok]
        for call in calls:
            payload = (call.arg("metadata") or {}).get("event_payload") or {}
            if isinstance(payload.get("delivery_id"), int):
                landed[payload["delivery_id"]] += 1
        return dict(landed)

    def add_users(ids: list[str]) -> int:
        for uid in ids:
            emu.add_user(uid, tz=PROGRAM_TZ)
        return len(ids)

    commands: dict[str, Callable[..., Any]] = {
        "add_users": add_users,
        "add_channel": lambda cid, name, members=(): bool(emu.add_channel(cid, name, members)),
        "set_delay": emu.set_delay,
        "fail": lambda method, kwargs: emu.fail(method, **kwargs),
        "clear_faults": emu.clear_faults,
        "enforce_rate_tiers": emu.enforce_rate_tiers,
        "response_urls": lambda n: [emu.new_response_url() for _ in range(n)],
        "reset_calls": emu.reset_calls,
        "stats": stats,
        "delivered": delivered,
    }
    while True:
        try:
            name, args = conn.recv()
        except EOFError:
            break
        if name == "stop":
            emu.stop()
            conn.send(("ok", None))
            break
        try:
            conn.send(("ok", commands[name](*args)))
        except Exception as error:  # report to the parent, keep serving
            conn.send(("error", repr(error)))


class EmulatorProcess:
    """`SlackEmulator` running in a spawned process; methods mirror the emulator's own."""

    def __init__(self, token: str = BOT_TOKEN) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_emulator_main, args=(child, token), name="slack-emulator", daemon=True)
        self.process.start()
        self.api_url: str = self._conn.recv()

    def _call(self, name: str, *args: Any) -> Any:
        self._conn.send((name, args))
        status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"emulator {name}: {value}")
        return value

    def add_users(self, ids: list[str]) -> int:
        return self._call("add_users", ids)

    def add_channel(self, cid: str, name: str, members: list[str] | tuple[str, ...] = ()) -> None:
        self._call("add_channel", cid, name, list(members))

    def set_delay(self, method: str | None, seconds: float) -> None:
        self._call("set_delay", method, seconds)

    def fail(self, method: str, **kwargs: Any) -> None:
        self._call("fail", method, kwargs)

    def clear_faults(self) -> None:
        self._call("clear_faults")

    def enforce_rate_tiers(self, enabled: bool = True) -> None:
        self._call("enforce_rate_tiers", enabled)

    def response_urls(self, n: int) -> list[str]:
        return self._call("response_urls", n)

    def reset_calls(self) -> None:
        self._call("reset_calls")

    def stats(self) -> dict[str, Any]:
        return self._call("stats")

    def delivered(self) -> dict[int, int]:
        return self._call("delivered")

    @property
    def pid(self) -> int:
        return int(self.process.pid or 0)

    def stop(self) -> None:
        with contextlib.suppress(OSError, EOFError, RuntimeError):
            self._call("stop")
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()


# ----------------------------------------------------------------------------------------------------------
# Process measurements from /proc (psutil is not a dependency).
# ----------------------------------------------------------------------------------------------------------
def proc_memory_mb(pid: int) -> dict[str, float]:
    """Current (VmRSS) and peak (VmHWM) resident memory of a process, in MB."""
    out = {"rss": 0.0, "hwm": 0.0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss"] = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                out["hwm"] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


def worker_pids(pid: int) -> list[int]:
    """The bot's survey worker: a child started by multiprocessing's spawn (not its resource tracker)."""
    try:
        children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []
    found = []
    for child in children:
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except OSError:
            pass
    return found


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by a process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# ----------------------------------------------------------------------------------------------------------
# Databases
# ----------------------------------------------------------------------------------------------------------
def prepare_database(database_url: str | None, reset: bool, workdir: Path) -> str:
    """Migrate a fresh SQLite file, or an empty (or, with --reset, emptied) PostgreSQL database."""
    from sqlalchemy import text
    from sqlmodel import SQLModel

    from storage.engine import make_engine
    from storage.migrate import upgrade

    if database_url is None:
        url = f"sqlite:///{workdir / 'shelfmate-bench.db'}"
        upgrade(url)
        return url
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            count = connection.execute(text("SELECT count(*) FROM program")).scalar_one()
            if count and not reset:
                raise SystemExit(f"{database_url.split('@')[-1]} already has data; pass --reset to empty it first")
            if count and engine.dialect.name == "postgresql":
                tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
                connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()
    return database_url


@dataclass
class Seeded:
    program_open_id: int
    all_people: list[str]
    applicants: list[str]  # enrolled only in the program taking applications: they press Pause
    pairs: list[tuple[int, str, str]]  # (pairing id, mentor id, mentee id)
    seconds: float


def seed(database_url: str, participants: int, pairings: int) -> Seeded:
    """Bulk-insert people, two programs, enrollments, active pairings with agreements and check-ins."""
    from storage.engine import make_engine, session_scope
    from storage.models import Agreement, CheckIn, Enrollment, Pairing, Person, Program

    began = time.perf_counter()
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo(PROGRAM_TZ)).date()
    mentors_n = (pairings + 1) // 2
    if mentors_n + pairings > participants:
        raise SystemExit("--pairings needs at least 1.5 participants per pairing")
    people = [f"U0P{i:06d}" for i in range(participants)]
    specs = ["school_instruction", "collection_development", "reference", "management", "youth_services"]
    engine = make_engine(database_url)
    try:
        with session_scope(engine, write=True) as session:
            running = Program(
                name="Bench Running Program",
                applications_open=today - timedelta(days=70),
                applications_close=today - timedelta(days=50),
                agreement_due=today - timedelta(days=25),
                starts_on=today - timedelta(days=20),
                ends_on=today + timedelta(days=120),
                admin_channel=ADMIN_CHANNEL,
                timezone=PROGRAM_TZ,
                admins=["U0ADMIN01"],
            )
            taking = Program(
                name="Bench Open Program",
                applications_open=today - timedelta(days=10),
                applications_close=today + timedelta(days=30),
                agreement_due=today + timedelta(days=45),
                starts_on=today + timedelta(days=45),
                ends_on=today + timedelta(days=170),
                admin_channel=ADMIN_CHANNEL,
                timezone=PROGRAM_TZ,
                admins=["U0ADMIN01"],
            )
            session.add_all([running, taking])
            session.add_all(
                [
                    Person(slack_user_id=p, display_name=f"Librarian {i}", timezone=PROGRAM_TZ, refreshed_at=now)
                    for i, p in enumerate(people)
                ]
            )
            session.flush()

            def enrollment(person: str, program: Program, role: str, status: str, k: int) -> Enrollment:
                return Enrollment(
                    program_id=program.id,
                    person_id=person,
                    role=role,
                    status=status,
                    library_type=("school", "public", "academic", "special")[k % 4],
                    organization=f"District {k % 40:02d}",
                    region=f"Region {k % 6}",
                    specializations=[specs[k % 5], specs[(k + 2) % 5]],
                    years_experience=8 if role == "mentor" else k % 3,
                    grade_levels=["middle"] if k % 4 == 0 else [],
                    goals="Grow a school library program.",
                    meeting_format="video",
                    capacity=2 if role == "mentor" else 0,
                    created_at=now,
                    updated_at=now,
                )

            mentors = [enrollment(people[i], running, "mentor", "matched", i) for i in range(mentors_n)]
            mentees = [
                enrollment(people[mentors_n + i], running, "mentee", "matched", mentors_n + i) for i in range(pairings)
            ]
            rest = people[mentors_n + pairings :]
            applicants = [
                enrollment(p, taking, "mentor" if k % 3 == 0 else "mentee", "applied", k) for k, p in enumerate(rest)
            ]
            session.add_all(mentors + mentees + applicants)
            session.flush()
            rows = [
                Pairing(
                    program_id=running.id,
                    mentor_enrollment_id=mentors[i // 2].id,
                    mentee_enrollment_id=mentees[i].id,
                    status="active",
                    score=71.5,
                    reasons=["Same library type", "Shared specialization"],
                    created_at=now,
                    approved_at=now - timedelta(days=30),
                )
                for i in range(pairings)
            ]
            session.add_all(rows)
            session.flush()
            session.add_all(
                [
                    Agreement(
                        pairing_id=p.id,
                        cadence="monthly",
                        after_hours_ok=bool(i % 2),
                        mentor_accepted_at=now,
                        mentee_accepted_at=now,
                        updated_at=now,
                    )
                    for i, p in enumerate(rows)
                ]
            )
            # They met at the start and this week: nothing is missed, so the scheduler owes no nudges.
            session.add_all(
                [
                    CheckIn(
                        pairing_id=p.id,
                        logged_by=mentees[i].person_id,
                        met_on=day,
                        duration_minutes=45,
                        topics=["collection_development"],
                        rating=4,
                        idempotency_key=f"bench:{p.id}:{n}",
                        created_at=now,
                    )
                    for i, p in enumerate(rows)
                    for n, day in enumerate((today - timedelta(days=20), today))
                ]
            )
            pairs = [(int(p.id or 0), mentors[i // 2].person_id, mentees[i].person_id) for i, p in enumerate(rows)]
            open_id = int(taking.id or 0)
    finally:
        engine.dispose()
    return Seeded(open_id, people, rest, pairs, time.perf_counter() - began)


def time_scheduler_plan(database_url: str) -> tuple[float, float, int]:
    """One tick's planning on the seeded data, as the scheduler does it: the survey (read transaction) and
    the write pass over what it found (rolled back afterwards). Seconds of each, and deliveries planned."""
    from bot.services import schedule
    from storage.engine import make_engine, session_scope

    engine = make_engine(database_url)
    try:
        now = datetime.now(UTC)
        with session_scope(engine) as session:
            began = time.perf_counter()
            found = schedule.survey(session, now)
            survey_seconds = time.perf_counter() - began
        with session_scope(engine, write=True) as session:
            began = time.perf_counter()
            report = schedule.plan(session, now, scope=found) if found else schedule.PlanReport()
            write_seconds = time.perf_counter() - began
            session.rollback()
    finally:
        engine.dispose()
    return survey_seconds, write_seconds, len(report.enqueued)


# ----------------------------------------------------------------------------------------------------------
# The bare app (`--serve-bare`): same uvicorn + Starlette adapter, listeners that only ack.
# ----------------------------------------------------------------------------------------------------------
def serve_bare(port: int, log_level: str) -> None:
    import uvicorn
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_bolt.authorization import AuthorizeResult

    from bot.web import create_asgi_app

    async def authorize(**_kwargs: Any) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=None, team_id=TEAM_ID, bot_token=BOT_TOKEN, bot_user_id="U0SHELFBOT", bot_id="B0SHELFBOT"
        )

    app = AsyncApp(signing_secret=SIGNING_SECRET, authorize=authorize, request_verification_enabled=True)
    anything = re.compile(".*")

    @app.command(re.compile("^/mentor"))
    async def command(ack: AsyncAck) -> None:
        await ack()

    @app.action(anything)
    async def action(ack: AsyncAck) -> None:
        await ack()

    @app.view(anything)
    async def view(ack: AsyncAck) -> None:
        await ack()

    config = uvicorn.Config(
        create_asgi_app(app), host="127.0.0.1", port=port, log_level=log_level.lower(), access_log=False
    )
    uvicorn.Server(config).run()


# ----------------------------------------------------------------------------------------------------------
# Requests shaped like Slack's (see tests/slack_driver.py) and the load generator.
# ----------------------------------------------------------------------------------------------------------
class RequestMaker:
    def __init__(self, seeded: Seeded, response_urls: list[str], rng: random.Random) -> None:
        from tests.factories import intake_state

        self.seeded = seeded
        self.urls = itertools.cycle(response_urls)  # for "Not yet", which answers through response_url
        self.unused_url = response_urls[0]  # the other requests never post to theirs
        self.rng = rng
        self.serial = itertools.count(1)
        self.intake_values = intake_state(role="mentee", years_experience="2")
        self.metadata = json.dumps({"mode": "join", "role": "mentee", "program_id": seeded.program_open_id})

    def _envelope(self, user_id: str) -> dict[str, Any]:
        from tests.slack_driver import interactive_envelope

        return interactive_envelope(user_id, f"{next(self.serial)}.{int(time.time())}.benchtrigger")

    def _command(self, user_id: str, text: str) -> bytes:
        form = {
            "token": "legacy-verification-token-unused",
            "team_id": TEAM_ID,
            "team_domain": "libraries",
            "channel_id": "C0GENERAL",
            "channel_name": "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": "/mentor",
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self.unused_url,
            "trigger_id": f"{next(self.serial)}.{int(time.time())}.benchtrigger",
        }
        return urlencode(form).encode()

    def _button(self, user_id: str, action_id: str, value: str, *, home: bool) -> bytes:
        payload = self._envelope(user_id) | {
            "type": "block_actions",
            "response_url": self.unused_url if home else next(self.urls),
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "actions",
                    "value": value,
                    "text": {"type": "plain_text", "text": "button"},
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        if home:
            payload["container"] = {"type": "view", "view_id": "V0HOME"}
            payload["view"] = {"id": "V0HOME", "type": "home", "callback_id": "", "private_metadata": ""}
        else:
            payload["container"] = {
                "type": "message",
                "message_ts": "1700000000.000100",
                "channel_id": "G0PAIR",
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": "G0PAIR", "name": "mpdm"}
            payload["message"] = {"type": "message", "ts": "1700000000.000100", "text": ""}
        return urlencode({"payload": json.dumps(payload)}).encode()

    def _submission(self, user_id: str) -> bytes:
        from tests.slack_driver import view_submission_payload

        n = next(self.serial)
        view_id = f"V0BENCH{n:07d}"
        payload = view_submission_payload(
            self._envelope(user_id),
            "shelfmate_intake",
            self.intake_values,
            self.metadata,
            view_id=view_id,
            view_hash=f"{int(time.time())}.{n:08x}",
            title="Join mentoring",
        )
        return urlencode({"payload": json.dumps(payload)}).encode()

    def make(self, i: int) -> tuple[str, bytes]:
        kind = KINDS[i % len(KINDS)]
        pick = self.rng.choice
        if kind == "status":
            return kind, self._command(pick(self.seeded.all_people), "status")
        if kind == "help":
            return kind, self._command(pick(self.seeded.all_people), "help")
        if kind == "pause":
            return kind, self._button(pick(self.seeded.applicants), "shelfmate_pause", "", home=True)
        if kind == "not_yet":
            pairing_id, mentor, mentee = pick(self.seeded.pairs)
            return kind, self._button(pick((mentor, mentee)), "shelfmate_not_yet", str(pairing_id), home=False)
        _pairing, _mentor, mentee = pick(self.seeded.pairs)  # a paired mentee applies to the open program
        return kind, self._submission(mentee)


@dataclass
class Sample:
    kind: str
    seconds: float
    status: int
    ok: bool
    at: float  # seconds since the phase started


@dataclass
class Phase:
    scenario: str
    app: str
    samples: list[Sample] = field(default_factory=list)
    wall: float = 0.0
    cpu: float = 0.0
    uptime: tuple[float, float] = (0.0, 0.0)


def _sign(body: bytes) -> dict[str, str]:
    from tests.slack_driver import sign

    ts = str(int(time.time()))
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sign(SIGNING_SECRET, ts, body),
    }


async def drive(
    url: str,
    maker: RequestMaker,
    *,
    clients: int,
    total: int | None,
    duration: float | None,
    rate: float | None = None,
) -> tuple[list[Sample], float]:
    """Send signed requests with at most `clients` in flight.

    Closed loop (rate None): each client sends its next request as soon as the previous one is answered,
    so this finds the throughput and the latency at saturation. Paced (rate in requests/s): requests are
    due at fixed times and latency counts from that time, so a stall is not hidden by clients that wait.
    """
    import aiohttp

    samples: list[Sample] = []
    counter = itertools.count()
    began = time.perf_counter()
    stop_at = began + duration if duration else None
    if rate and total is None:
        total = int(rate * (duration or 0))
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def send(i: int, due: float) -> None:
            kind, body = maker.make(i)
            headers = _sign(body)
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    content = await response.read()
                    status = response.status
            except Exception as error:  # a refused or timed-out request is a result, not a crash
                content, status = repr(error).encode(), 0
            seconds = time.perf_counter() - due
            ok = status == 200 and not (kind == "intake" and b'"errors"' in content)
            samples.append(Sample(kind, seconds, status, ok, due - began))

        async def worker() -> None:
            while True:
                i = next(counter)
                if (total is not None and i >= total) or (stop_at is not None and time.perf_counter() >= stop_at):
                    return
                await send(i, time.perf_counter())

        if rate is None:
            await asyncio.gather(*(worker() for _ in range(clients)))
        else:
            in_flight = asyncio.Semaphore(clients)

            async def paced(i: int, due: float) -> None:
                async with in_flight:
                    await send(i, due)

            tasks = []
            for i in range(total or 0):
                due = began + i / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                tasks.append(asyncio.create_task(paced(i, due)))
            await asyncio.gather(*tasks)
    return samples, time.perf_counter() - began


# ----------------------------------------------------------------------------------------------------------
# Reporting
# ----------------------------------------------------------------------------------------------------------
def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def summarize(samples: list[Sample], wall: float) -> dict[str, float]:
    values = sorted(s.seconds for s in samples)
    return {
        "n": len(values),
        "p50": percentile(values, 50) * 1000,
        "p95": percentile(values, 95) * 1000,
        "p99": percentile(values, 99) * 1000,
        "max": (values[-1] if values else float("nan")) * 1000,
        "over": sum(1 for v in values if v > SLACK_DEADLINE),
        "errors": sum(1 for s in samples if not s.ok),
        "rps": len(values) / wall if wall else float("nan"),
    }


def print_report(phases: list[Phase], clients: int) -> None:
    header = (
        f"{'scenario':<26}{'app':<6}{'kind':<9}{'n':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'>3s':>6}{'errors':>8}{'req/s':>8}{'CPU ms/req':>12}"
    )
    print(header)
    print("-" * len(header))
    totals: dict[tuple[str, str], dict[str, float]] = {}
    for scenario in dict.fromkeys(p.scenario for p in phases):
        for app in ("bare", "bot"):
            runs = [p for p in phases if p.scenario == scenario and p.app == app]
            samples = [s for p in runs for s in p.samples]
            wall = sum(p.wall for p in runs)
            cpu = sum(p.cpu for p in runs)
            overall = summarize(samples, wall)
            totals[(scenario, app)] = overall
            rows = [("all", overall)]
            if app == "bot":
                rows += [(kind, summarize([s for s in samples if s.kind == kind], wall)) for kind in KINDS]
            for kind, row in rows:
                cpu_text = f"{cpu * 1000 / overall['n']:>12.2f}" if kind == "all" and overall["n"] else f"{'':>12}"
                rps_text = f"{row['rps']:>8.0f}" if kind == "all" else f"{'':>8}"
                print(
                    f"{scenario if (app, kind) == ('bare', 'all') else '':<26}{app if kind == 'all' else '':<6}"
                    f"{kind:<9}{row['n']:>7,}{row['p50']:>9.1f}{row['p95']:>9.1f}{row['p99']:>9.1f}"
                    f"{row['max']:>9.1f}{row['over']:>6}{row['errors']:>8}{rps_text}{cpu_text}"
                )
    print()
    print(f"Ratios, bot / bare app, same run ({clients} concurrent clients):")
    for scenario in dict.fromkeys(p.scenario for p in phases):
        bare, bot = totals[(scenario, "bare")], totals[(scenario, "bot")]
        verdict = "within 2x" if bot["p99"] <= 2 * bare["p99"] else "OVER 2x"
        print(
            f"  {scenario:<26} p50 {bot['p50'] / bare['p50']:5.2f}x   p95 {bot['p95'] / bare['p95']:5.2f}x   "
            f"p99 {bot['p99'] / bare['p99']:5.2f}x ({verdict})   throughput {bot['rps'] / bare['rps']:5.2f}x"
        )
    slow = [(p, s) for p in phases for s in p.samples if s.seconds > SLACK_DEADLINE]
    print()
    if not slow:
        print("Requests over Slack's 3 s deadline: none.")
    else:
        print(f"Requests over Slack's 3 s deadline: {len(slow)}")
        by: Counter[tuple[str, str, str]] = Counter((p.scenario, p.app, s.kind) for p, s in slow)
        for (scenario, app, kind), n in sorted(by.items()):
            print(f"  FLAG {scenario} / {app} / {kind}: {n}")
        for p, s in sorted(slow, key=lambda ps: -ps[1].seconds)[:5]:
            up = p.uptime[0] + s.at
            print(
                f"  FLAG {s.seconds:6.2f} s  {p.scenario} / {p.app} / {s.kind}  HTTP {s.status}  "
                f"(bot uptime {up:.0f} s)"
            )
    for scenario in dict.fromkeys(p.scenario for p in phases):
        timed = [
            (p.uptime[0] + s.at, s.seconds)
            for p in phases
            if p.scenario == scenario and p.app == "bot"
            for s in p.samples
        ]
        slowest = sorted(timed, key=lambda t: -t[1])[: max(1, len(timed) // 100)]
        stalls = Counter(int(at // 5 * 5) for at, _ in slowest)
        print(
            f"Slowest 1% of the bot's requests in {scenario} by bot uptime (5 s buckets; the scheduler ticks "
            "every 60 s from start): " + ", ".join(f"{t}-{t + 5} s: {n}" for t, n in sorted(stalls.items()))
        )
    errors = Counter((p.scenario, p.app, s.kind, s.status) for p in phases for s in p.samples if not s.ok)
    if errors:
        print(
            "Non-200 answers or inline errors: "
            + ", ".join(f"{k[0]}/{k[1]}/{k[2]} HTTP {k[3]}: {n}" for k, n in errors.items())
        )


# ----------------------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="shelfmate-ack-"))
    emulator = EmulatorProcess(BOT_TOKEN)
    bot = bare = None
    try:
        database_url = prepare_database(args.database_url, args.reset, workdir)
        seeded = seed(database_url, args.participants, args.pairings)
        survey_seconds, write_seconds, plan_enqueued = time_scheduler_plan(database_url)
        emulator.add_users(seeded.all_people + ["U0ADMIN01"])
        emulator.add_channel(ADMIN_CHANNEL, "mentoring-admins", ["U0ADMIN01"])
        db_label = (
            "SQLite (temp file)"
            if args.database_url is None
            else "PostgreSQL"
            if "postgres" in database_url
            else "given URL"
        )
        print(
            f"Database: {db_label}; seeded {len(seeded.all_people):,} participants and {len(seeded.pairs):,} active "
            f"pairings in {seeded.seconds:.1f} s. The 60 s tick's planning over them: survey {survey_seconds:.2f} s "
            f"(read transaction), then {write_seconds * 1000:.0f} ms holding the write lock "
            f"({plan_enqueued} deliveries planned)."
        )

        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SHELFMATE_", "DATABASE_URL"))}
        env |= {
            "PYTHONPATH": str(ROOT),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": emulator.api_url,
            "DATABASE_URL": database_url,
            "SHELFMATE_ADMINS": "U0ADMIN01",
            "LOG_LEVEL": args.log_level,
        }
        bot_port, bare_port = free_port(), free_port()
        bot_log, bare_log = workdir / "bot.log", workdir / "bare.log"
        with bot_log.open("wb") as out:
            bot = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run", "--http", "--host", "127.0.0.1", "--port", str(bot_port)],
                cwd=workdir,  # no stray .env
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        bot_started = time.monotonic()
        with bare_log.open("wb") as out:
            bare = subprocess.Popen(
                [sys.executable, __file__, "--serve-bare", "--port", str(bare_port), "--log-level", args.log_level],
                cwd=workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_healthy(f"http://127.0.0.1:{bot_port}/healthz", bot, bot_log)
        wait_healthy(f"http://127.0.0.1:{bare_port}/healthz", bare, bare_log)
        time.sleep(1.0)
        memory = {"bot idle (started)": proc_memory_mb(bot.pid), "bare idle (started)": proc_memory_mb(bare.pid)}

        urls = {
            "bot": f"http://127.0.0.1:{bot_port}/slack/events",
            "bare": f"http://127.0.0.1:{bare_port}/slack/events",
        }
        pids = {"bot": bot.pid, "bare": bare.pid}
        rng = random.Random(args.seed)
        maker = RequestMaker(seeded, emulator.response_urls(args.response_urls), rng)

        # Warm-up: auth.test, imports on first use, connection pools, SQLite page cache.
        for app in ("bare", "bot"):
            asyncio.run(drive(urls[app], maker, clients=10, total=100, duration=None))
        time.sleep(1.0)
        memory["bot idle (warmed up)"] = proc_memory_mb(bot.pid)
        for child in worker_pids(bot.pid):
            memory["bot's worker idle (warmed up)"] = proc_memory_mb(child)

        phases: list[Phase] = []
        for slack, delay in (("Slack instant", 0.0), (f"Slack +{args.delay:g} s", args.delay)):
            emulator.clear_faults()
            if delay:
                emulator.set_delay(None, delay)  # every Web API method
                emulator.fail("response_url", delay=delay, times=None)  # and response_url posts
            for scenario, rate in ((f"{slack}, saturated", None), (f"{slack}, {args.rate:g}/s", args.rate)):
                if args.only and args.only not in scenario:
                    continue
                for round_no in range(args.rounds):
                    order = ("bare", "bot") if round_no % 2 == 0 else ("bot", "bare")
                    for app in order:
                        phase = Phase(scenario, app)
                        cpu0 = proc_cpu_seconds(pids[app])
                        up0 = time.monotonic() - bot_started
                        total = args.requests if rate is None else args.paced_requests
                        phase.samples, phase.wall = asyncio.run(
                            drive(
                                urls[app], maker, clients=args.clients, total=total, duration=args.duration, rate=rate
                            )
                        )
                        if app == "bot" and delay:
                            time.sleep(delay + 1.0)  # let the post-ack Slack calls finish; their CPU counts too
                        phase.cpu = proc_cpu_seconds(pids[app]) - cpu0
                        phase.uptime = (up0, time.monotonic() - bot_started)
                        phases.append(phase)
                        print(
                            f"  ran {scenario} / {app}: {len(phase.samples):,} requests in {phase.wall:.1f} s "
                            f"(bot uptime {phase.uptime[0]:.0f}-{phase.uptime[1]:.0f} s)",
                            flush=True,
                        )
            memory[f"bot after load, {slack}"] = proc_memory_mb(bot.pid)
            for child in worker_pids(bot.pid):
                memory[f"bot's worker after load, {slack}"] = proc_memory_mb(child)
            memory[f"bare after load, {slack}"] = proc_memory_mb(bare.pid)
        emulator.clear_faults()

        print()
        print_report(phases, args.clients)
        print()
        print(f"{'process memory (MB)':<34}{'RSS now':>9}{'peak (VmHWM)':>14}")
        for label, values in memory.items():
            print(f"{label:<34}{values['rss']:>9.0f}{values['hwm']:>14.0f}")

        stats = emulator.stats()
        bot_text = bot_log.read_text(errors="replace")
        problems = Counter(
            m.group(0) for m in re.finditer(r"Traceback|\bERROR\b|\bWARNING\b|database is locked", bot_text)
        )
        print()
        print(
            "Slack emulator saw: "
            + ", ".join(f"{k} x{v}" for k, v in sorted(stats["statuses"].items()))
            + f"; catalogue violations: {stats['violations']}"
        )
        for sample in stats["violation_samples"][:3]:
            print(f"  violation: {sample}")
        print(f"Bot log: {dict(problems) or 'no warnings or errors'} ({bot_log})")
        if problems:
            interesting = [ln for ln in bot_text.splitlines() if re.search(r"ERROR|WARNING|Error|locked", ln)]
            for line in interesting[:4]:
                print(f"  {line[:220]}")
    finally:
        for process in (bot, bare):
            if process is not None:
                stop_process(process)
        emulator.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="600 requests per app and scenario (250 paced), one round (< 60 s)"
    )
    parser.add_argument("--duration", type=float, help="seconds per app, scenario and round (default 20)")
    parser.add_argument("--requests", type=int, help="requests per app, scenario and round (instead of --duration)")
    parser.add_argument("--rounds", type=int, help="alternating rounds per scenario (default 2; --quick 1)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rate", type=float, default=50.0, help="requests/s of the paced scenarios (default 50)")
    parser.add_argument("--delay", type=float, default=2.0, help="Slack delay of the second scenario (s)")
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--pairings", type=int, default=3_000)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a temporary SQLite file)")
    parser.add_argument("--reset", action="store_true", help="empty the --database-url database first")
    parser.add_argument("--log-level", default="INFO", help="the bot's LOG_LEVEL (default INFO, as shipped)")
    parser.add_argument("--response-urls", type=int, default=6000, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", help='run only the scenarios whose name contains this, e.g. "50/s" or "+2 s"')
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (database, logs)")
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.port, args.log_level)
        return
    if args.requests is None and args.duration is None:
        if args.quick:
            args.requests = 600
        else:
            args.duration = 20.0
    args.paced_requests = args.requests and int(min(args.requests, 5 * args.rate))
    if args.rounds is None:
        args.rounds = 1 if args.quick else 2
    run(args)


if __name__ == "__main__":
    main()
