"""Two writers on one database: the HTTP app taking applications while two `shelfmate sweep` processes deliver."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.listeners import FAILED_AFTER_ACK
from bot.views.common import SLACK_TROUBLE
from storage import deliveries
from storage.engine import session_scope
from storage.models import DeliveryStatus, Enrollment
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.factories import intake_state, make_program
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_delivery_reliability import CHANNELS, T0, delivered_ids, seed_due, sweep_process

APPLICANTS = [f"U0APPL{i:03d}" for i in range(24)]
LOAD = 300
FAILURE_WORDS = ("locked", FAILED_AFTER_ACK, SLACK_TROUBLE, "something went wrong")


def load_sent(engine: Engine) -> int:
    with session_scope(engine) as session:
        rows = deliveries.by_status(session, DeliveryStatus.SENT)
    return sum(1 for row in rows if row.subject.startswith("load:"))


def test_app_and_two_sweeps_write_at_once_without_locks_or_duplicates(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, database_url: str
) -> None:
    for channel in CHANNELS:
        emulator.add_channel(channel, channel.lower())
    for uid in APPLICANTS:
        emulator.add_user(uid, name=uid.lower())
    program = make_program(engine)
    seed_due(engine, program.id, LOAD)
    # Each post takes 20 ms: the sweeps have seconds of posting (and of writing what they sent) ahead of them
    # when the applications start, so the two kinds of writers certainly overlap.
    emulator.set_delay("chat.postMessage", 0.02)
    response_urls: dict[str, str] = {}

    def apply(uid: str) -> tuple[int, bytes]:
        form = slack.command_body(uid, "/mentor", "join mentee")
        response_urls[uid] = form["response_url"]
        opened = slack.post(urlencode(form).encode(), "application/x-www-form-urlencoded")
        assert opened.status_code == 200, opened.text
        response = slack.view_submission(
            uid, "shelfmate_intake", intake_state(), private_metadata=f'{{"program_id": {program.id}}}', view_id=uid
        )
        return response.status_code, response.content

    sweeps = [sweep_process(database_url, emulator, T0) for _ in range(2)]
    wait_for(lambda: load_sent(engine) > 0, timeout=60, what="the sweeps to send their first message")
    started = time.time()
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(apply, APPLICANTS))
    finished = time.time()
    outputs = [process.communicate(timeout=120)[0] for process in sweeps]

    assert answers == [(200, b"")] * len(APPLICANTS)  # every application saved, none answered with an error
    for process, output in zip(sweeps, outputs, strict=True):
        assert process.returncode == 0, output
        assert "database is locked" not in output and "Traceback" not in output
        assert BOT_TOKEN not in output and SIGNING_SECRET not in output
    with session_scope(engine) as session:
        applied = session.exec(select(Enrollment.person_id)).all()
        load_ids = {d.id for d in deliveries.by_status(session) if d.subject.startswith("load:")}
    assert sorted(applied) == APPLICANTS
    landed = delivered_ids(emulator)
    assert load_ids <= set(landed) and max(landed.values()) == 1
    load_posts = [c.at for c in emulator.calls_to("chat.postMessage") if c.args.get("channel") in CHANNELS]
    assert any(started <= at <= finished for at in load_posts), "the sweeps did not post while people applied"
    # What each applicant saw: their confirmation and the command's answers, never a failure.
    wait_for(lambda: all(emulator.messages_in(uid) for uid in APPLICANTS), what="every applicant's confirmation")
    for uid in APPLICANTS:
        shown = json.dumps(emulator.messages_in(uid) + emulator.responses_to(response_urls[uid])).lower()
        assert not [w for w in FAILURE_WORDS if w.lower() in shown], f"{uid} was shown a failure: {shown[:400]}"
        assert "thanks for applying" in shown, shown[:400]
