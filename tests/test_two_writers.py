"""Two writers on one database: the HTTP app taking applications while two `shelfmate sweep` processes deliver."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.listeners import FAILED_AFTER_ACK
from bot.views.common import SLACK_TROUBLE
from storage import deliveries
from storage.engine import session_scope
from storage.models import Delivery, DeliveryStatus, Enrollment
from tests.factories import intake_state, make_program
from tests.polling import wait_for
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_delivery_reliability import CHANNELS, T0, delivered_ids, seed_due, sweep_process

APPLICANTS = [f"U0APPL{i:03d}" for i in range(24)]
LOAD = 300  # both sweeps are still posting when the last application is answered (about 50 have landed then)
FAILURE_WORDS = ("locked", FAILED_AFTER_ACK, SLACK_TROUBLE, "something went wrong")


def posting_sweeps(engine: Engine) -> int:
    """How many sweeps have posted a load message: each sweep claims with its own token, kept once sent."""
    with session_scope(engine) as session:
        tokens = session.exec(
            select(Delivery.claim_token).where(
                Delivery.status == DeliveryStatus.SENT,
                Delivery.subject.startswith("load:"),  # type: ignore[attr-defined]
            )
        ).all()
    return len(set(tokens))


def test_app_and_two_sweeps_write_at_once_without_locks_or_duplicates(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, database_url: str
) -> None:
    for channel in CHANNELS:
        emulator.add_channel(channel, channel.lower())
    for uid in APPLICANTS:
        emulator.add_user(uid, name=uid.lower())
    program = make_program(engine)
    seed_due(engine, program.id, LOAD)
    emulator.set_delay("chat.postMessage", 0.005)  # keep the sweeps busy while applications arrive
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
    try:
        # The applications start only once both sweeps have claimed and posted: the writers overlap.
        wait_for(lambda: posting_sweeps(engine) == 2, timeout=60, what="both sweeps to post a message")
        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(apply, APPLICANTS))
        still_running = [process.poll() is None for process in sweeps]
        outputs = [process.communicate(timeout=120)[0] for process in sweeps]
    finally:
        for process in sweeps:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert still_running == [True, True], "a sweep finished before the last application: no overlap was tested"
    assert answers == [(200, b"")] * len(APPLICANTS)  # every application saved, none answered with an error
    for process, output in zip(sweeps, outputs, strict=True):
        assert process.returncode == 0, output
        assert "database is locked" not in output and "Traceback" not in output
    with session_scope(engine) as session:
        applied = session.exec(select(Enrollment.person_id)).all()
        load_ids = {d.id for d in deliveries.by_status(session) if d.subject.startswith("load:")}
    assert sorted(applied) == APPLICANTS
    landed = delivered_ids(emulator)
    assert load_ids <= set(landed) and max(landed.values()) == 1
    # What each applicant saw: their confirmation DM, ephemerals and the command's response_url, never a failure.
    wait_for(lambda: all(emulator.messages_in(uid) for uid in APPLICANTS), what="every applicant's confirmation")
    for uid in APPLICANTS:
        seen = emulator.messages_in(uid) + emulator.ephemerals(user_id=uid) + emulator.responses_to(response_urls[uid])
        shown = json.dumps(seen).lower()
        assert not [w for w in FAILURE_WORDS if w.lower() in shown], f"{uid} was shown a failure: {shown[:400]}"
        assert "thanks for applying" in shown, shown[:400]
