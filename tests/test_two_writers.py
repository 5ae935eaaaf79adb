"""Two writers on one database: the HTTP app taking applications while two `shelfmate sweep` processes deliver."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.engine import Engine
from sqlmodel import select

from storage import deliveries
from storage.engine import session_scope
from storage.models import Enrollment
from tests.factories import intake_state, make_program
from tests.slack_driver import SlackDriver
from tests.slack_emulator import SlackEmulator
from tests.test_delivery_reliability import CHANNELS, T0, delivered_ids, seed_due, sweep_process

APPLICANTS = [f"U0APPL{i:03d}" for i in range(24)]


def test_app_and_two_sweeps_write_at_once_without_locks_or_duplicates(
    slack: SlackDriver, emulator: SlackEmulator, engine: Engine, database_url: str
) -> None:
    for channel in CHANNELS:
        emulator.add_channel(channel, channel.lower())
    for uid in APPLICANTS:
        emulator.add_user(uid, name=uid.lower())
    program = make_program(engine)
    seed_due(engine, program.id, 150)
    emulator.set_delay("chat.postMessage", 0.005)  # keep the sweeps busy while applications arrive

    def apply(uid: str) -> tuple[int, bytes]:
        opened = slack.mentor(uid, "join mentee")
        assert opened.status_code == 200, opened.text
        response = slack.view_submission(
            uid, "shelfmate_intake", intake_state(), private_metadata=f'{{"program_id": {program.id}}}', view_id=uid
        )
        return response.status_code, response.content

    sweeps = [sweep_process(database_url, emulator, T0) for _ in range(2)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(apply, APPLICANTS))
    outputs = [process.communicate(timeout=120)[0] for process in sweeps]

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
