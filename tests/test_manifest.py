"""manifest.yml against Slack's own manifest schema, and against what the app really handles and calls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from bot import slack_surface
from bot.views import help as help_views
from bot.views import ids
from tests.slack_emulator import specs_dir

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = specs_dir() / "manifest-schema"
REMOTE = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/"


def load_manifest() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def manifest_validator() -> jsonschema.protocols.Validator:
    """The top schema `$ref`s files on GitHub; offline, the same files are registered under those URLs."""
    resources = []
    for name in ("manifest.schema.1.0.0.json", "manifest.schema.2.0.0.json"):
        contents = json.loads((SCHEMA_DIR / "schemas" / name).read_text())
        resources.append((REMOTE + name, Resource.from_contents(contents)))
    registry = Registry().with_resources(resources)
    top = json.loads((SCHEMA_DIR / "manifest.schema.json").read_text())
    cls = jsonschema.validators.validator_for(top)
    return cls(top, registry=registry)


def test_manifest_passes_slacks_schema() -> None:
    errors = sorted(manifest_validator().iter_errors(load_manifest()), key=str)
    assert errors == [], "\n".join(e.message for e in errors)


def test_the_schema_check_would_catch_a_broken_manifest() -> None:
    broken = load_manifest()
    broken["features"]["slash_commands"][0]["command"] = "mentor without slash and far too long" * 3
    del broken["display_information"]["name"]
    assert list(manifest_validator().iter_errors(broken))


def test_upstream_examples_behave_as_upstream_says() -> None:
    validator = manifest_validator()
    examples = SCHEMA_DIR / "tests" / "manifests" / "v1"
    assert validator.is_valid(json.loads((examples / "manifest.valid.json").read_text()))
    assert not validator.is_valid(json.loads((examples / "manifest.invalid.json").read_text()))


def test_manifest_declares_exactly_the_commands_and_events_the_app_handles() -> None:
    manifest = load_manifest()
    declared = tuple(c["command"] for c in manifest["features"]["slash_commands"])
    assert sorted(declared) == sorted(slack_surface.COMMANDS)
    assert sorted(manifest["settings"]["event_subscriptions"]["bot_events"]) == sorted(slack_surface.BOT_EVENTS)
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


@pytest.mark.parametrize(
    ("command", "entries"),
    [(ids.MENTOR_COMMAND, help_views.MENTOR_SUBCOMMANDS), (ids.ADMIN_COMMAND, help_views.ADMIN_SUBCOMMANDS)],
)
def test_usage_hint_lists_what_help_lists_in_its_order(command: str, entries: list[tuple[str, str]]) -> None:
    """Slack shows the hint as soon as `/mentor ` is typed: it should offer every subcommand help offers (and
    nothing help does not), in the same order, or people never find what it leaves out."""
    hint = next(c["usage_hint"] for c in load_manifest()["features"]["slash_commands"] if c["command"] == command)
    hinted = [word.strip() for word in hint.strip().removeprefix("[").removesuffix("]").split("|")]
    offered = list(dict.fromkeys(usage.split()[0] for usage, _ in entries))
    assert hinted == offered


def _catalogue(method: str) -> dict[str, Any]:
    return json.loads((specs_dir() / "slack-api-ref" / "docs.slack.dev" / "methods" / f"{method}.json").read_text())


def _event_scopes() -> dict[str, list[str]]:
    events = json.loads((specs_dir() / "slack-api-ref" / "docs.slack.dev" / "events" / "events.json").read_text())
    return {e["name"]: e.get("scopes", []) for e in events}


def test_every_method_the_app_calls_is_covered_by_a_declared_scope() -> None:
    scopes = set(load_manifest()["oauth_config"]["scopes"]["bot"])
    missing = {}
    for method in sorted(slack_surface.WEB_API_METHODS):
        accepted = (_catalogue(method).get("scope") or {}).get("bot") or []
        if accepted and not scopes.intersection(accepted):
            missing[method] = accepted
    assert missing == {}


def test_no_declared_scope_is_unused() -> None:
    declared = set(load_manifest()["oauth_config"]["scopes"]["bot"])
    needed = set(slack_surface.SCOPES_FOR_COMMANDS)
    for method in slack_surface.WEB_API_METHODS:
        needed.update((_catalogue(method).get("scope") or {}).get("bot") or [])
    event_scopes = _event_scopes()
    for event in slack_surface.BOT_EVENTS:
        needed.update(event_scopes[event])
    assert declared - needed == set()


@pytest.mark.parametrize("command", slack_surface.COMMANDS)
def test_each_declared_command_is_answered_by_the_app(slack: Any, command: str) -> None:
    response = slack.command("U0SOMEONE1", command, "help")
    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"


def test_an_undeclared_command_is_not_handled(slack: Any) -> None:
    assert slack.command("U0SOMEONE1", "/not-ours", "help").status_code == 404


ACTION_IDS = sorted(v for k, v in vars(ids).items() if k.startswith("ACTION_"))
CALLBACK_IDS = sorted(v for k, v in vars(ids).items() if k.endswith("_CALLBACK"))


@pytest.mark.parametrize("action_id", ACTION_IDS)
def test_every_button_the_views_can_show_has_a_listener(slack: Any, action_id: str) -> None:
    """A button without a listener fails silently in Slack (a warning icon); Bolt answers it with 404."""
    assert slack.block_action("U0SOMEONE1", action_id, "1").status_code == 200


@pytest.mark.parametrize("callback_id", CALLBACK_IDS)
def test_every_modal_the_views_can_open_has_a_listener(slack: Any, callback_id: str) -> None:
    assert slack.view_submission("U0SOMEONE1", callback_id, {}).status_code == 200


@pytest.mark.parametrize("event", slack_surface.BOT_EVENTS)
def test_every_declared_event_has_a_listener(slack: Any, event: str) -> None:
    response = slack.event({"type": event, "user": "U0SOMEONE1", "channel": "D0HOME", "tab": "home"})
    assert response.status_code == 200
