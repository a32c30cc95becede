"""`assistant desk add-user`: agents become queue agents with their skills; the password comes from a
hidden prompt or stdin and is never printed."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli.main import app
from assistant.core.errors import AssistantError
from assistant.desktop.accounts import Accounts
from assistant.desktop.settings import DesktopSettings
from assistant.queue.routing import CallQueue
from assistant.queue.settings import QueueSettings
from assistant.storage.calls import CallStore
from domain.clock import real_clock

PASSWORD = "cli-test-password"


@pytest.fixture()
def database(tmp_path: Path) -> str:
    return str(tmp_path / "calls.sqlite")


def accounts(database: str) -> Accounts:
    return Accounts(CallQueue(CallStore(database, real_clock), QueueSettings()), DesktopSettings(session_minutes=1))


def test_an_agent_from_stdin_and_a_supervisor_from_the_hidden_prompt(database: str) -> None:
    runner = CliRunner()
    added = runner.invoke(app, ["desk", "add-user", "王芳", "--role", "agent", "--skills", "cards, securities",
                                "--password-stdin", "--database", database], input=f"{PASSWORD}\n")
    assert added.exit_code == 0, added.output
    assert added.output == "王芳: agent, skills cards, securities\n"
    prompted = runner.invoke(app, ["desk", "add-user", "陈主管", "--role", "supervisor", "--database", database],
                             input=f"{PASSWORD}\n{PASSWORD}\n")
    assert prompted.exit_code == 0 and PASSWORD not in prompted.output
    desk = accounts(database)
    assert desk.queue.agent("王芳").skills == ("cards", "securities")
    assert [found[0].role for found in (desk.login("王芳", PASSWORD), desk.login("陈主管", PASSWORD)) if found] == [
        "agent", "supervisor"]


def test_adding_again_changes_the_password_and_ends_the_sessions(database: str) -> None:
    desk = accounts(database)
    desk.add_user("王芳", "agent", PASSWORD, ["general"])
    found = desk.login("王芳", PASSWORD)
    assert found is not None
    desk.add_user("王芳", "agent", "another-password")  # skills kept
    assert desk.user(found[1]) is None and desk.login("王芳", PASSWORD) is None
    assert desk.login("王芳", "another-password") is not None and desk.queue.agent("王芳").skills == ("general",)


@pytest.mark.parametrize(("arguments", "problem"), [
    (["新人", "--role", "agent"], "give --skills to add one"),
    (["新人", "--role", "agent", "--skills", "cooking"], "unknown skill 'cooking'"),
    (["新人", "--role", "boss"], "role must be one of agent, supervisor"),
    (["新人", "--role", "supervisor", "--skills", "cards"], "supervisors take no calls"),
])
def test_refusals(database: str, arguments: list[str], problem: str) -> None:
    result = CliRunner().invoke(app, ["desk", "add-user", *arguments, "--password-stdin", "--database", database],
                                input=f"{PASSWORD}\n")
    assert isinstance(result.exception, AssistantError) and problem in str(result.exception)


def test_a_short_password_is_refused(database: str) -> None:
    with pytest.raises(AssistantError, match="at least 8 characters"):
        accounts(database).add_user("王芳", "agent", "short", ["general"])
