"""`assistant queue ...`: the hand-off queue, agents and callbacks in the assistant's database."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, List, Optional

import typer

from assistant.queue.routing import STATES, Agent, Entry
from assistant.runtime.desk import Desk
from domain.config import load_config

if TYPE_CHECKING:
    pass

queue_app = typer.Typer(no_args_is_help=True, help="The hand-off queue: waiting calls, agents, callbacks.")


def _desk() -> Desk:
    return Desk(load_config())


def _show(items: list[Entry] | list[Agent], as_json: bool, line: Any) -> None:
    for item in items:
        print(json.dumps(item.to_json(), ensure_ascii=False) if as_json else line(item), flush=True)


def _entry_line(entry: Entry) -> str:
    due = f" due {entry.callback['due_at']} ({entry.callback['confirmation']})" if entry.callback else ""
    who = f" → {entry.agent}" if entry.agent else ""
    return (f"#{entry.ticket} {entry.status}{who} [{entry.skill} p{entry.priority}] {entry.reason}{due} "
            f"since {entry.created_at} caller {entry.caller or '-'} {entry.function or '-'} "
            f"{json.dumps(entry.slots, ensure_ascii=False)} ({entry.verification})")


def _agent_line(agent: Agent) -> str:
    phone = f", phone {agent.phone}" if agent.phone else ""
    return f"{agent.name}: {agent.state} since {agent.since}, skills {', '.join(agent.skills)}{phone}"


@queue_app.command("list")
def list_waiting(
    as_json: bool = typer.Option(False, "--json", help="one JSON object per entry, with its whole context"),
    skill: Optional[str] = typer.Option(None, "--skill", help="only this skill group"),
) -> None:
    """Calls waiting for a person, in the order agents get them."""
    _show(_desk().queue.waiting(skill), as_json, _entry_line)


@queue_app.command("agents")
def agents(as_json: bool = typer.Option(False, "--json", help="one JSON object per agent")) -> None:
    """Agents, their skills and states."""
    _show(_desk().queue.agents(), as_json, _agent_line)


@queue_app.command("agent")
def agent(
    name: str = typer.Argument(..., help="the agent's name"),
    skills: Optional[str] = typer.Option(None, "--skills", help="skill groups, comma-separated (needed to add an agent)"),
    state: Optional[str] = typer.Option(None, "--state", help=f"one of {', '.join(STATES)}"),
    phone: Optional[str] = typer.Option(None, "--phone", help="the SIP URI of the agent's extension or softphone "
                                        "(sip:agent1@10.0.0.7:5060): SIP calls they take are put through to it; "
                                        "\"\" takes it away"),
) -> None:
    """Add an agent, or change one's skills, state or phone."""
    desk = _desk()
    print(_agent_line(desk.queue.set_agent(name, desk.skill_list(skills), state, phone)))


@queue_app.command("take")
def take(
    agent_name: str = typer.Option(..., "--agent", help="an available agent"),
    as_json: bool = typer.Option(False, "--json", help="the entry as one JSON object (null when none)"),
) -> None:
    """Give an agent the next call their skills cover (a due callback first) and put them on it."""
    entry = _desk().queue.take_next(agent_name)
    if as_json:
        print(json.dumps(entry.to_json() if entry else None, ensure_ascii=False))
    else:
        print(_entry_line(entry) if entry else f"nothing waiting for {agent_name}")


@queue_app.command("finish")
def finish(agent_name: str = typer.Option(..., "--agent", help="an agent on a call")) -> None:
    """End an agent's call: the ticket is done (its handle time counts) and the agent wraps up."""
    print(_entry_line(_desk().queue.finish(agent_name)))


@queue_app.command("callbacks")
def callbacks(as_json: bool = typer.Option(False, "--json", help="one JSON object per callback")) -> None:
    """Booked callbacks not handed to an agent yet, the soonest first."""
    _show(_desk().queue.booked(), as_json, _entry_line)


@queue_app.command("dispatch")
def dispatch(as_json: bool = typer.Option(False, "--json", help="one JSON object per callback handed out")) -> None:
    """Hand every due callback to an available agent with its skill (run it every minute)."""
    _show(_desk().callbacks.dispatch(), as_json, _entry_line)


@queue_app.command("sms-reply")
def sms_reply(
    phone: str = typer.Argument(..., help="the number the reply came from"),
    text: List[str] = typer.Argument(..., help="the reply: 1 confirms, 2 asks to change, or a time (明天上午十点)"),
) -> None:
    """An inbound SMS reply to a booked callback; prints what it did."""
    print(_desk().callbacks.reply(phone, " ".join(text)))
