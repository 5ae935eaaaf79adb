"""Tests for the Slack Web API emulator, driven by the real slack_sdk clients over HTTP.

The emulator is the oracle for every bot test, so it must itself agree with slack_sdk's wire format and
with Slack's catalogue; these tests pin that down without the bot in the loop.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.slack_emulator import RESPONSE_URL, SlackEmulator, specs_dir

TOKEN = "xoxb-test-token"


class ManualClock:
    """A clock tests can move forward, to age triggers, response URLs and rate windows."""

    def __init__(self, start: float = 1_736_960_400.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _seed(emulator: SlackEmulator) -> None:
    """Three people, a second bot and a channel: enough to exercise DMs, MPIMs and membership."""
    emulator.add_user("U1", name="ann", real_name="Ann Archivist", email="ann@library.example")
    emulator.add_user("U2", name="bo", real_name="Bo Binder", tz="Europe/London", tz_offset=0)
    emulator.add_user("U3", name="cy", real_name="Cy Cataloguer")
    emulator.add_user("UBOT2", name="otherbot", is_bot=True)
    emulator.add_channel("C1", "mentoring", members=["U1", "U2", "U3"])


@pytest.fixture
def emu() -> Iterator[SlackEmulator]:
    """A started emulator with three people and one channel; fails the test on leftover violations."""
    with SlackEmulator(token=TOKEN) as emulator:
        _seed(emulator)
        yield emulator
        emulator.assert_no_violations()


@pytest.fixture
def emu_clock() -> Iterator[tuple[SlackEmulator, ManualClock]]:
    """Like ``emu`` but on a manual clock."""
    clock = ManualClock()
    with SlackEmulator(token=TOKEN, clock=clock) as emulator:
        _seed(emulator)
        yield emulator, clock
        emulator.assert_no_violations()


def client(emulator: SlackEmulator, **kwargs: Any) -> WebClient:
    """A real sync WebClient pointed at the emulator."""
    return WebClient(token=TOKEN, base_url=emulator.api_url, **kwargs)


def post_json(url: str, payload: Any) -> tuple[int, dict[str, Any]]:
    """POST JSON the way Bolt's respond() does, returning (status, decoded body)."""
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


# ---------------------------------------------------------------------------------------------- basics


def test_urls_and_specs_dir(emu: SlackEmulator) -> None:
    assert emu.api_url == emu.base_url + "/api/"
    assert emu.base_url.startswith("http://127.0.0.1:")
    assert (specs_dir() / "slack-api-ref" / "docs.slack.dev" / "methods" / "chat.postMessage.json").is_file()


def test_missing_catalogue_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="catalogue"):
        SlackEmulator(specs_dir=tmp_path)


def test_valid_calls_succeed_and_are_recorded(emu: SlackEmulator) -> None:
    web = client(emu)
    assert web.auth_test()["user_id"] == emu.bot_user_id
    user = web.users_info(user="U1")["user"]
    assert user["id"] == "U1"
    assert user["profile"]["email"] == "ann@library.example"
    assert user["tz"] == "America/Los_Angeles"
    assert user["tz_offset"] == -28800
    assert user["deleted"] is False
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    posted = web.chat_postMessage(channel="C1", text="hi", blocks=blocks)
    assert posted["channel"] == "C1"
    assert posted["message"]["text"] == "hi"

    assert [c.method for c in emu.calls] == ["auth.test", "users.info", "chat.postMessage"]
    call = emu.calls_to("chat.postMessage")[0]
    assert call.ok
    assert call.arg("blocks") == blocks
    assert call.response["ts"] == posted["ts"]
    assert "token" not in call.args
    assert emu.messages_in("C1")[0]["blocks"] == blocks
    emu.reset_calls()
    assert emu.calls == []


def test_users_lookup_by_email_and_not_found(emu: SlackEmulator) -> None:
    web = client(emu)
    assert web.users_lookupByEmail(email="ANN@library.example")["user"]["id"] == "U1"
    with pytest.raises(SlackApiError) as missing:
        web.users_lookupByEmail(email="nobody@library.example")
    assert missing.value.response["error"] == "users_not_found"
    with pytest.raises(SlackApiError) as unknown:
        web.users_info(user="U404")
    assert unknown.value.response["error"] == "user_not_found"


def test_auth_errors(emu: SlackEmulator) -> None:
    with pytest.raises(SlackApiError) as wrong:
        WebClient(token="xoxb-wrong", base_url=emu.api_url).auth_test()
    assert wrong.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as none:
        WebClient(base_url=emu.api_url).auth_test()
    assert none.value.response["error"] == "not_authed"
    # A token in the form body is also accepted by Slack (and is a catalogued argument).
    assert WebClient(base_url=emu.api_url).api_call("auth.test", params={"token": TOKEN})["ok"]


# ---------------------------------------------------------------------------------------------- catalogue


def test_unknown_argument_is_a_violation(emu: SlackEmulator) -> None:
    with pytest.raises(SlackApiError) as err:
        client(emu).chat_postMessage(channel="C1", text="hi", container_id="X1")
    assert err.value.response["error"] == "invalid_arguments"
    assert emu.violations == ["chat.postMessage: argument 'container_id' is not in the catalogue"]
    assert emu.messages_in("C1") == []
    emu.reset_violations()


def test_missing_required_argument_is_a_violation(emu: SlackEmulator) -> None:
    with pytest.raises(SlackApiError):
        client(emu).api_call("chat.postEphemeral", json={"channel": "C1", "text": "psst"})
    assert emu.violations == ["chat.postEphemeral: missing required argument 'user'"]
    emu.reset_violations()


def test_unknown_method_is_a_violation(emu: SlackEmulator) -> None:
    with pytest.raises(SlackApiError) as err:
        client(emu).api_call("chat.postMessages", json={"channel": "C1"})
    assert err.value.response["error"] == "unknown_method"
    assert emu.violations == ["chat.postMessages: no such method in Slack's catalogue"]
    emu.reset_violations()


def test_json_body_to_a_form_only_method_is_a_violation(emu: SlackEmulator) -> None:
    """Slack ignores JSON bodies for methods without json_input_supported."""
    with pytest.raises(SlackApiError):
        client(emu).api_call("users.info", json={"user": "U1"})
    assert len(emu.violations) == 1
    assert "users.info: JSON body" in emu.violations[0]
    emu.reset_violations()
    # The same call form-encoded is fine.
    assert client(emu).api_call("users.info", params={"user": "U1"})["user"]["name"] == "ann"


def test_malformed_json_argument_is_a_violation(emu: SlackEmulator) -> None:
    with pytest.raises(SlackApiError):
        client(emu).api_call("chat.postMessage", params={"channel": "C1", "blocks": "[{not json"})
    assert emu.violations == ["chat.postMessage: argument 'blocks' is not valid JSON"]
    emu.reset_violations()


def test_modal_title_longer_than_slack_allows_is_a_violation(emu: SlackEmulator) -> None:
    view = {"type": "modal", "title": {"type": "plain_text", "text": "x" * 25}, "blocks": []}
    with pytest.raises(SlackApiError) as err:
        client(emu).views_open(trigger_id=emu.issue_trigger_id(), view=view)
    assert err.value.response["error"] == "invalid_arguments"
    assert "title" in emu.violations[0]
    emu.reset_violations()


# ---------------------------------------------------------------------------------------------- faults


def test_429_is_retried_transparently_with_retry_after(emu: SlackEmulator) -> None:
    emu.fail("chat.postMessage", status=429, retry_after=0)
    web = client(emu, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    assert web.chat_postMessage(channel="C1", text="eventually")["ok"]
    first, second = emu.calls_to("chat.postMessage")
    assert (first.status, first.response["error"], first.response_headers["Retry-After"]) == (429, "ratelimited", "0")
    assert second.ok
    assert len(emu.messages_in("C1")) == 1


def test_429_without_a_retry_handler_surfaces(emu: SlackEmulator) -> None:
    emu.fail("users.info", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as err:
        client(emu).users_info(user="U1")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "7"


def test_500_and_error_codes_surface_as_slack_api_error(emu: SlackEmulator) -> None:
    web = client(emu)
    emu.fail("users.info", status=500)
    with pytest.raises(SlackApiError) as server_error:
        web.users_info(user="U1")
    assert server_error.value.response.status_code == 500
    emu.fail("chat.postMessage", error="not_in_channel", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as not_in:
            web.chat_postMessage(channel="C1", text="x")
        assert not_in.value.response["error"] == "not_in_channel"
    assert web.chat_postMessage(channel="C1", text="third time lucky")["ok"]


def test_fault_match_restricts_to_matching_args(emu: SlackEmulator) -> None:
    web = client(emu)
    emu.fail("chat.postMessage", error="is_archived", times=None, match=lambda a: a.get("channel") == "U2")
    assert web.chat_postMessage(channel="U1", text="fine")["ok"]
    with pytest.raises(SlackApiError):
        web.chat_postMessage(channel="U2", text="blocked")
    with pytest.raises(SlackApiError):
        web.chat_postMessage(channel="U2", text="still blocked")
    emu.clear_faults()
    assert web.chat_postMessage(channel="U2", text="unblocked")["ok"]


def test_fault_with_unknown_error_code_warns(emu: SlackEmulator) -> None:
    with pytest.warns(UserWarning, match="catalogued errors"):
        emu.fail("chat.postMessage", error="no_such_error_code")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        emu.fail("conversations.open", error="user_disabled")
    emu.clear_faults()


def test_delay_makes_the_client_time_out(emu: SlackEmulator) -> None:
    """Delays simulate a slow Slack so timeouts and retries can be tested."""
    emu.fail("users.info", delay=0.6)
    with pytest.raises(TimeoutError):
        client(emu, timeout=0.2).users_info(user="U1")  # type: ignore[arg-type]
    emu.set_delay(None, 0.05)
    started = time.perf_counter()
    client(emu).auth_test()
    assert time.perf_counter() - started >= 0.05
    emu.set_delay(None, 0)


def test_random_faults_are_reproducible_per_seed() -> None:
    """A failing chaos run must be replayable from its seed."""

    def statuses(seed: int) -> list[int]:
        with SlackEmulator(token=TOKEN) as emulator:
            emulator.set_random_faults(0.5, seed=seed, kinds=("429", "500"))
            web = client(emulator)
            for _ in range(20):
                with contextlib.suppress(SlackApiError):
                    web.auth_test()
            assert emulator.violations == []
            return [c.status for c in emulator.calls]

    first = statuses(7)
    assert first == statuses(7)
    assert {200, 429, 500} <= set(first) | {200}
    assert any(status != 200 for status in first)


def test_rate_tiers_with_an_injected_clock(emu_clock: tuple[SlackEmulator, ManualClock]) -> None:
    """Tier 3 allows 50 calls a minute; chat.postMessage about one a second per channel."""
    emu, clock = emu_clock
    emu.enforce_rate_tiers(True)
    web = client(emu)
    for _ in range(50):  # conversations.info is tier 3: 50 per minute
        web.conversations_info(channel="C1")
    with pytest.raises(SlackApiError) as limited:
        web.conversations_info(channel="C1")
    assert limited.value.response.status_code == 429
    assert int(limited.value.response.headers["Retry-After"]) >= 1
    clock.advance(61)
    assert web.conversations_info(channel="C1")["ok"]

    assert web.chat_postMessage(channel="C1", text="one")["ok"]
    with pytest.raises(SlackApiError):
        web.chat_postMessage(channel="C1", text="too soon in the same channel")
    assert web.chat_postMessage(channel="U1", text="another channel is fine")["ok"]
    clock.advance(1.01)
    assert web.chat_postMessage(channel="C1", text="a second later")["ok"]


# ---------------------------------------------------------------------------------------------- conversations


def test_conversations_open_is_stable_per_user_set(emu: SlackEmulator) -> None:
    web = client(emu)
    dm = web.conversations_open(users="U1")["channel"]["id"]
    assert dm.startswith("D")
    again = web.conversations_open(users=["U1"])
    assert again["channel"]["id"] == dm
    assert again["already_open"] is True
    group = web.conversations_open(users="U1,U2")["channel"]
    assert group["id"].startswith("G")
    assert group["is_mpim"] is True
    assert web.conversations_open(users="U2,U1")["channel"]["id"] == group["id"]
    assert web.conversations_open(users="U2")["channel"]["id"] not in (dm, group["id"])
    full = web.conversations_open(users="U1", return_im=True)["channel"]
    assert (full["is_im"], full["user"]) == (True, "U1")
    assert emu.im_id("U1") == dm
    # Posting to a user id lands in the same DM.
    assert web.chat_postMessage(channel="U1", text="hello")["channel"] == dm
    assert [m["text"] for m in emu.messages_in("U1")] == ["hello"]


def test_conversations_open_errors(emu: SlackEmulator) -> None:
    web = client(emu)
    emu.deactivate_user("U3")
    cases = {
        "U404": "user_not_found",
        "U3": "user_disabled",
        "UBOT2": "cannot_dm_bot",
        ",".join(f"U{i}" for i in range(9)): "too_many_users",
    }
    for users, error in cases.items():
        with pytest.raises(SlackApiError) as err:
            web.conversations_open(users=users)
        assert err.value.response["error"] == error
    assert web.users_info(user="U3")["user"]["deleted"] is True


def test_conversations_members_paginates(emu: SlackEmulator) -> None:
    emu.add_channel("C2", "big", members=[f"U{i:03d}" for i in range(250)])
    web = client(emu)
    first = web.conversations_members(channel="C2", limit=100)
    assert len(first["members"]) == 100
    members: list[str] = []
    for page in web.conversations_members(channel="C2", limit=100):
        members += page["members"]
    assert members == [f"U{i:03d}" for i in range(250)]
    with pytest.raises(SlackApiError) as err:
        web.conversations_members(channel="C404")
    assert err.value.response["error"] == "channel_not_found"


def test_conversations_info(emu: SlackEmulator) -> None:
    info = client(emu).conversations_info(channel="C1", include_num_members=True)["channel"]
    assert (info["id"], info["name"], info["is_channel"], info["num_members"]) == ("C1", "mentoring", True, 3)


def test_history_newest_first_with_metadata_only_on_request(emu: SlackEmulator) -> None:
    web = client(emu)
    metadata = {"event_type": "pairing_announced", "event_payload": {"round": 3}}
    tss = [web.chat_postMessage(channel="C1", text=f"m{i}", metadata=metadata)["ts"] for i in range(5)]
    assert tss == sorted(tss) and len(set(tss)) == 5

    plain = web.conversations_history(channel="C1")["messages"]
    assert [m["text"] for m in plain] == ["m4", "m3", "m2", "m1", "m0"]
    assert all("metadata" not in m for m in plain)
    rich = web.conversations_history(channel="C1", include_all_metadata=True)["messages"]
    assert all(m["metadata"] == metadata for m in rich)

    page = web.conversations_history(channel="C1", limit=2)
    assert [m["text"] for m in page["messages"]] == ["m4", "m3"]
    assert page["has_more"] is True
    rest = web.conversations_history(channel="C1", limit=10, cursor=page["response_metadata"]["next_cursor"])
    assert [m["text"] for m in rest["messages"]] == ["m2", "m1", "m0"]

    window = web.conversations_history(channel="C1", oldest=tss[1], latest=tss[3])["messages"]
    assert [m["text"] for m in window] == ["m2"]
    inclusive = web.conversations_history(channel="C1", oldest=tss[1], latest=tss[3], inclusive=True)
    assert [m["text"] for m in inclusive["messages"]] == ["m3", "m2", "m1"]


def test_thread_replies_stay_out_of_history(emu: SlackEmulator) -> None:
    web = client(emu)
    parent = web.chat_postMessage(channel="C1", text="parent")["ts"]
    web.chat_postMessage(channel="C1", text="reply", thread_ts=parent)
    history = web.conversations_history(channel="C1")["messages"]
    assert [m["text"] for m in history] == ["parent"]
    assert history[0]["reply_count"] == 1
    replies = web.conversations_replies(channel="C1", ts=parent)["messages"]
    assert [m["text"] for m in replies] == ["parent", "reply"]


def test_chat_update_delete_and_ephemeral(emu: SlackEmulator) -> None:
    web = client(emu)
    ts = web.chat_postMessage(channel="C1", text="draft")["ts"]
    updated = web.chat_update(channel="C1", ts=ts, text="final")
    assert updated["message"]["text"] == "final"
    assert emu.messages_in("C1")[0]["text"] == "final"
    assert web.chat_delete(channel="C1", ts=ts)["ok"]
    assert emu.messages_in("C1") == []
    with pytest.raises(SlackApiError) as gone:
        web.chat_delete(channel="C1", ts=ts)
    assert gone.value.response["error"] == "message_not_found"

    human = emu.add_message("C1", "U1", "written by a person")
    with pytest.raises(SlackApiError) as theirs:
        web.chat_update(channel="C1", ts=human["ts"], text="nope")
    assert theirs.value.response["error"] == "cant_update_message"

    ephemeral = web.chat_postEphemeral(channel="C1", user="U2", text="only you")
    assert ephemeral["message_ts"]
    assert [e["text"] for e in emu.ephemerals(user_id="U2")] == ["only you"]
    emu.add_user("U9", name="outsider")
    with pytest.raises(SlackApiError) as outsider:
        web.chat_postEphemeral(channel="C1", user="U9", text="x")
    assert outsider.value.response["error"] == "user_not_in_channel"


def test_posting_needs_content_and_a_known_channel(emu: SlackEmulator) -> None:
    web = client(emu)
    with pytest.raises(SlackApiError) as empty, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        web.chat_postMessage(channel="C1")
    assert empty.value.response["error"] == "no_text"
    with pytest.raises(SlackApiError) as unknown:
        web.chat_postMessage(channel="C404", text="x")
    assert unknown.value.response["error"] == "channel_not_found"
    emu.add_channel("C9", "old", is_archived=True)
    with pytest.raises(SlackApiError) as archived:
        web.chat_postMessage(channel="C9", text="x")
    assert archived.value.response["error"] == "is_archived"


def test_dm_to_a_deactivated_user_still_posts_like_slack(emu: SlackEmulator) -> None:
    """Slack accepts chat.postMessage to a deleted user (python-slack-sdk#1156): the bot must check."""
    emu.deactivate_user("U2")
    assert client(emu).chat_postMessage(channel="U2", text="are you there?")["ok"]


# ---------------------------------------------------------------------------------------------- views


def test_trigger_id_is_single_use(emu: SlackEmulator) -> None:
    """Slack rejects a reused trigger (exchanged) and an invented one (invalid)."""
    web = client(emu)
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Join"}, "blocks": []}
    trigger = emu.issue_trigger_id()
    opened = web.views_open(trigger_id=trigger, view=view)["view"]
    assert opened["id"].startswith("V") and opened["hash"]
    assert opened["title"]["text"] == "Join"
    with pytest.raises(SlackApiError) as reused:
        web.views_open(trigger_id=trigger, view=view)
    assert reused.value.response["error"] == "exchanged_trigger_id"
    with pytest.raises(SlackApiError) as invented:
        web.views_open(trigger_id="123.456.abc", view=view)
    assert invented.value.response["error"] == "invalid_trigger_id"

    updated = web.views_update(view_id=opened["id"], hash=opened["hash"], view={**view, "private_metadata": "x"})
    assert updated["view"]["private_metadata"] == "x"
    with pytest.raises(SlackApiError) as stale:
        web.views_update(view_id=opened["id"], hash=opened["hash"], view=view)
    assert stale.value.response["error"] == "hash_conflict"
    pushed = web.views_push(trigger_id=emu.issue_trigger_id(), view=view)["view"]
    assert pushed["id"] != opened["id"]


def test_trigger_id_expires_after_three_seconds(emu_clock: tuple[SlackEmulator, ManualClock]) -> None:
    emu, clock = emu_clock
    trigger = emu.issue_trigger_id()
    clock.advance(3.5)
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Late"}, "blocks": []}
    with pytest.raises(SlackApiError) as err:
        client(emu).views_open(trigger_id=trigger, view=view)
    assert err.value.response["error"] == "expired_trigger_id"


def test_views_publish_home(emu: SlackEmulator) -> None:
    web = client(emu)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "Your mentor: Bo"}}]
    published = web.views_publish(user_id="U1", view={"type": "home", "blocks": blocks})["view"]
    assert published["type"] == "home" and published["blocks"] == blocks
    assert emu.home_view("U1") == published
    republished = web.views_publish(user_id="U1", view={"type": "home", "blocks": []})["view"]
    assert republished["id"] == published["id"] and republished["hash"] != published["hash"]


# ---------------------------------------------------------------------------------------------- files


def test_upload_flow_stores_bytes(emu: SlackEmulator) -> None:
    web = client(emu)
    content = b"name,mentor\nann,bo\n"
    result = web.files_upload_v2(
        content=content, filename="pairs.csv", title="Pairs", channel="C1", initial_comment="Round 3"
    )
    assert result["file"]["title"] == "Pairs"
    (uploaded,) = emu.uploaded_files
    assert (uploaded.content, uploaded.filename, uploaded.title) == (content, "pairs.csv", "Pairs")
    assert (uploaded.channel_id, uploaded.initial_comment) == ("C1", "Round 3")
    share = emu.messages_in("C1")[-1]
    assert share["text"] == "Round 3" and share["files"][0]["id"] == uploaded.file_id
    assert emu.calls_to("files.completeUploadExternal")[0].arg("files")[0]["id"] == uploaded.file_id


def test_complete_without_upload_is_file_not_found(emu: SlackEmulator) -> None:
    web = client(emu)
    file_id = web.files_getUploadURLExternal(filename="x.txt", length=3)["file_id"]
    with pytest.raises(SlackApiError) as err:
        web.files_completeUploadExternal(files=[{"id": file_id, "title": "x"}], channel_id="C1")
    assert err.value.response["error"] == "file_not_found"
    assert emu.uploaded_files == []


# ---------------------------------------------------------------------------------------------- response_url


def test_response_url_allows_five_uses(emu: SlackEmulator) -> None:
    """Slack allows five responses per response_url; the sixth is refused."""
    url = emu.new_response_url()
    for i in range(5):
        assert post_json(url, {"text": f"update {i}", "replace_original": True})[0] == 200
    status, body = post_json(url, {"text": "one too many"})
    assert (status, body["error"]) == (404, "expired_url")
    assert [p["text"] for p in emu.responses_to(url)] == [f"update {i}" for i in range(5)]
    assert emu.violations == ["response_url: used more than 5 times"]
    emu.reset_violations()


def test_response_url_expires_after_thirty_minutes(emu_clock: tuple[SlackEmulator, ManualClock]) -> None:
    emu, clock = emu_clock
    url = emu.new_response_url()
    clock.advance(29 * 60)
    assert post_json(url, {"text": "just in time"})[0] == 200
    clock.advance(2 * 60)
    assert post_json(url, {"text": "too late"})[0] == 404
    assert len(emu.violations) == 1 and "minutes after issue" in emu.violations[0]
    emu.reset_violations()


def test_response_url_fault_is_not_a_violation(emu: SlackEmulator) -> None:
    url = emu.new_response_url()
    emu.fail(RESPONSE_URL, status=503)
    assert post_json(url, {"text": "x"})[0] == 503
    assert post_json(url, {"text": "y"})[0] == 200
    assert [p["text"] for p in emu.responses_to(url)] == ["y"]


# ---------------------------------------------------------------------------------------------- async client


@pytest.mark.asyncio
async def test_async_web_client_round_trip(emu: SlackEmulator) -> None:
    web = AsyncWebClient(token=TOKEN, base_url=emu.api_url)
    assert (await web.users_info(user="U2"))["user"]["tz"] == "Europe/London"
    posted = await web.chat_postMessage(
        channel="U2", text="hi", metadata={"event_type": "nudge", "event_payload": {"n": 1}}
    )
    history = await web.conversations_history(channel=posted["channel"], include_all_metadata=True)
    assert history["messages"][0]["metadata"]["event_payload"] == {"n": 1}
    uploaded = await web.files_upload_v2(content=b"async bytes", filename="a.txt", channel=posted["channel"])
    assert uploaded["file"]["size"] == len(b"async bytes")
    assert emu.uploaded_files[0].content == b"async bytes"
    # The async client really sends GET for read methods; the emulator accepts both verbs.
    assert emu.calls_to("users.info")[0].http_method == "GET"
