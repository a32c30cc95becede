"""The follow-up survey an answered campaign call opens with (intents/campaigns.yml service_survey), and
what the campaign reads of it (RecordedCalls.result) for each way it ends.

Real pieces (tests/conversation.py): the dialog, the call store, the sandbox bank. A call is driven as
`assistant chat --text` drives one: CallStarted (outbound, opening with the survey), then the
customer's typed lines and keys as frames through the call's stages; typed words go through the real
NLU (slow), keys need none. The last test dials a campaign whose numbers answer that way.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conversation import CALLER, CATALOG, CONFIG, World, world  # noqa: F401 (fixtures)
from sandbox_bank import knowledge, seeded_bank_file, vocabulary  # noqa: F401 (fixtures)
from test_catalog import VALID, load_error, write_catalog

from assistant.campaigns.results import RecordedCalls
from assistant.campaigns.rules import CallingRules
from assistant.campaigns.runner import Answered, Runner
from assistant.campaigns.store import CampaignStore, Target
from assistant.catalog.catalog import Catalog
from assistant.core.dialing import TICKET, Dialed, OutboundCall
from assistant.core.frames import OUTBOUND, CallStarted, DialogTurn, EndOfCall
from assistant.core.pipeline import Pipeline, Processor
from assistant.core.turn import Turn
from assistant.dialog.responder import Responder
from assistant.nlu.understanding import InputLimits, UnderstandingStage
from assistant.queue.handoff import HandOffQueue
from assistant.runtime.desk import Desk
from assistant.transports.text import KEYS_PREFIX, typed_frames

pytestmark = pytest.mark.both_databases

SURVEY = "service_survey"
PARTY_PROMPT = "请问您是这个号码的机主本人吗？"
SATISFACTION_PROMPT = "请您为我们最近的服务打分"
ENDINGS = CATALOG.outbound[SURVEY].ends
# A script as the catalog reads it: kept out of the functions callers ask for, and its mistakes refused.
SCRIPT = """\
  survey:
    intents: []
    title: 回访
    slots:
      party: {type: choice, required: true, prompt: 是本人吗？, values: {me: [是我], other: [不是我]}, keys: {1: me, 9: other},
              affirm: me}
    opening: 您好。
    ends:
      done: 再见。
      other: 打扰了。
"""


def test_a_script_is_kept_apart_from_what_callers_ask_for(tmp_path: Path) -> None:
    write_catalog(tmp_path, VALID + SCRIPT)
    catalog = Catalog.load(tmp_path)
    assert list(catalog.functions) == ["stock_buy"] and list(catalog.outbound) == ["survey"]
    party = catalog.outbound["survey"].slot("party")
    assert (party.keys, party.affirm, party.deny) == (("me", "", "", "", "", "", "", "", "other"), "me", None)


@pytest.mark.parametrize("old, new, problem", [
    ("    intents: []\n", "    intents: []\n    menu: [回访]\n", "a function with no intents is opened by the "
                                                                "outbound call that names it: no 'menu'"),
    ("    intents: []\n", "", "missing 'intents'"),
    ("9: other}", "9: nobody}", "keys: 9: nobody must be a key 1-9 and one of the values (me, other)"),
    ("9: other}", "0: other}", "keys: 0: other must be a key 1-9"),
    ("affirm: me}", "affirm: maybe}", "affirm: 'maybe' is not one of the values (me, other)"),
    ("      done: 再见。\n", "      done: 再见{name}。\n", "names slot 'name'"),
    ("      other: 打扰了。\n", "      others: 打扰了。\n", "ends: 'others' is no choice value of a slot"),
    ("    ends:\n", "    action: crm.complaint\n    ends:\n", "give either 'action' or 'handoff' (or 'ends'"),
])
def test_a_script_s_mistakes_are_refused(tmp_path: Path, old: str, new: str, problem: str) -> None:
    assert old in SCRIPT
    write_catalog(tmp_path, VALID + SCRIPT.replace(old, new))
    assert problem in load_error(tmp_path)


class SurveyCall:
    """One answered campaign call, the customer's side typed: words (through `assistant`'s NLU, when
    given) or keys (dtmf:1)."""

    def __init__(self, world: World, call: OutboundCall, assistant: Any = None) -> None:
        self.world = world
        self.assistant = assistant
        self.dialog = world.dialogs().open(call.number)
        stages: list[Processor] = [UnderstandingStage(assistant.understanding)] if assistant else []
        self.pipeline = Pipeline([*stages, Responder(self.dialog, CATALOG)])
        self.opening = self._turn([CallStarted("survey", caller=call.number, direction=OUTBOUND, channel="text",
                                               start_function=call.start_function, slots=call.slots)])

    def type(self, line: str) -> Turn:
        """One typed line: exactly one turn must come of it."""
        assert self.assistant or line.startswith(KEYS_PREFIX), "typed words need the NLU"
        normalize = self.assistant.normalizer.normalize if self.assistant else str
        limits = self.assistant.understanding.limits if self.assistant else InputLimits()
        return self._turn(typed_frames(line, normalize, limits))

    def hang_up(self) -> None:
        self.pipeline.push(EndOfCall())

    @property
    def call_id(self) -> str:
        return self.dialog.record.call_id

    def result(self) -> Answered:
        return RecordedCalls(self.world.store.db).result(self.call_id)

    def _turn(self, frames: list[Any]) -> Turn:
        turns = [out.turn for frame in frames for out in self.pipeline.push(frame) if isinstance(out, DialogTurn)]
        assert len(turns) == 1, turns
        return turns[0]


def survey(world: World, assistant: Any = None) -> SurveyCall:
    call = SurveyCall(world, OutboundCall(CALLER, "service_followup", SURVEY, {"campaign": "spring", "contact": "1"}),
                      assistant)
    opening = call.opening
    assert (opening.function, opening.awaiting) == (SURVEY, "party")
    assert opening.say.startswith("您好，这里是阳光银行客户服务中心") and PARTY_PROMPT in opening.say
    return call


def assert_ended(turn: Turn, ending: str) -> None:
    """The turn said the ending and left nothing asked."""
    assert turn.say.endswith(ENDINGS[ending]) and turn.awaiting is None, turn


@pytest.mark.parametrize("score", ["1", "4", "5"])
def test_completed_by_keys(world: World, score: str) -> None:
    call = survey(world)
    turn = call.type("dtmf:1")
    assert turn.awaiting == "satisfaction" and SATISFACTION_PROMPT in turn.say
    assert_ended(call.type(f"dtmf:{score}"), "completed")
    call.hang_up()
    assert call.result() == Answered("completed", {"party": "customer", "satisfaction": score})


@pytest.mark.parametrize("key, ending", [("9", "refused"), ("2", "wrong_person")])
def test_refused_or_the_wrong_person_by_key_ends_before_the_score(world: World, key: str, ending: str) -> None:
    call = survey(world)
    assert_ended(call.type(f"dtmf:{key}"), ending)
    call.hang_up()
    assert call.result() == Answered(ending, {"party": ending})


def test_a_key_that_picks_nothing_asks_again(world: World) -> None:
    call = survey(world)
    turn = call.type("dtmf:5")
    assert turn.awaiting == "party" and PARTY_PROMPT in turn.say
    assert call.type("dtmf:1").awaiting == "satisfaction"
    turn = call.type("dtmf:7")  # the scores are 1-5
    assert turn.awaiting == "satisfaction" and SATISFACTION_PROMPT in turn.say
    assert_ended(call.type("dtmf:3"), "completed")


def test_hanging_up_mid_survey_leaves_it_answered_but_unfinished(world: World) -> None:
    call = survey(world)
    call.type("dtmf:1")
    call.hang_up()
    assert call.result() == Answered("answered", {"party": "customer"})
    (ended,) = world.store_rows("SELECT ended_at FROM calls WHERE id = ?", call.call_id)
    assert ended["ended_at"] is not None


# The other purposes' scripts: the right party first, nothing of the account or the offer before it.
@pytest.mark.parametrize("purpose, keys, ending, answers", [
    ("collections", ["1", "3"], "completed", {"party": "customer", "repayment": "arrange"}),
    ("collections", ["1", "2"], "completed", {"party": "customer", "repayment": "paid"}),
    ("collections", ["2"], "wrong_person", {"party": "wrong_person"}),
    ("collections", ["9", "1", "1"], "completed", {"party": "customer", "repayment": "within_days"}),  # 9: no opt-out here
    ("insurance_telesales", ["1", "1"], "completed", {"party": "customer", "interest": "interested"}),
    ("insurance_telesales", ["1", "9"], "refused", {"party": "customer", "interest": "refused"}),
    ("insurance_telesales", ["9"], "refused", {"party": "refused"}),
    ("marketing", ["1", "2"], "completed", {"party": "customer", "interest": "not_now"}),
    ("marketing", ["1", "9"], "refused", {"party": "customer", "interest": "refused"}),
])
def test_each_purpose_s_script_by_keys(world: World, purpose: str, keys: list[str], ending: str,
                                       answers: dict[str, str]) -> None:
    function = CallingRules.from_config(CONFIG.section("campaigns"), CATALOG.outbound).purpose(purpose).function
    script = CATALOG.outbound[function]
    call = SurveyCall(world, OutboundCall(CALLER, purpose, function, {"campaign": "c", "contact": "1"}))
    assert call.opening.awaiting == "party" and call.opening.say == f"{script.opening}{script.slot('party').prompt}"
    turns = [call.type(f"dtmf:{key}") for key in keys]
    assert turns[-1].say.endswith(script.ends[ending]) and turns[-1].awaiting is None
    assert all(turn.awaiting is not None for turn in turns[:-1])
    call.hang_up()
    assert call.result() == Answered(ending, answers)


@pytest.mark.slow
@pytest.mark.parametrize("party, score, value", [
    ("是的", "五分", "5"),
    ("对，我是本人", "非常满意", "5"),
    ("嗯", "给个两分吧", "2"),
    ("是我", "一般", "3"),
])
def test_completed_by_voice(world: World, assistant: Any, party: str, score: str, value: str) -> None:
    call = survey(world, assistant)
    assert call.type(party).awaiting == "satisfaction"
    assert_ended(call.type(score), "completed")
    call.hang_up()
    assert call.result() == Answered("completed", {"party": "customer", "satisfaction": value})


@pytest.mark.slow
@pytest.mark.parametrize("line, ending", [
    ("不是", "wrong_person"),
    ("你打错了", "wrong_person"),
    ("我不是他本人", "wrong_person"),
    ("不用了", "refused"),
    ("以后不要再打了", "refused"),
    ("别再打电话来了", "refused"),
])
def test_refused_or_the_wrong_person_by_voice(world: World, assistant: Any, line: str, ending: str) -> None:
    call = survey(world, assistant)
    assert_ended(call.type(line), ending)
    call.hang_up()
    assert call.result() == Answered(ending, {"party": ending})


class AnsweringTrunk:
    """The SIP trunk's part (assistant/core/dialing.py Dialer): each number answers, and the customer
    keys the script's answers into the real survey."""

    def __init__(self, world: World, keys: dict[str, list[str]]) -> None:
        self.world = world
        self.keys = keys  # number -> the keys pressed, one entry a line
        self.placed: list[OutboundCall] = []

    def originate(self, call: OutboundCall, ring_timeout_s: float = 30.0) -> Dialed:
        self.placed.append(call)
        answered = SurveyCall(self.world, call)
        for key in self.keys[call.number]:
            answered.type(f"{KEYS_PREFIX}{key}")
        answered.hang_up()
        return Dialed("answered", answered.call_id, 200, talked_s=20.0)


def test_a_campaign_dials_the_survey_and_acts_on_its_endings(world: World, call_database: str) -> None:
    rules = CallingRules.from_config(CONFIG.section("campaigns"), CATALOG.outbound)
    trunk = AnsweringTrunk(world, {"13900000001": ["1", "5"], "13900000002": ["1", "1"], "13900000003": ["9"],
                                   "13900000004": ["2"], "13900000005": ["1"]})
    store = CampaignStore(world.store.db)
    runner = Runner(store, rules, trunk, RecordedCalls(world.store.db),
                    HandOffQueue(Desk(CONFIG, call_database, world.clock).callbacks), world.clock)
    made = store.create("after_complaints", "complaint_followup", "agentless", "test.csv",
                        [Target(f"C{n}", phone, {TICKET: str(n)}) for n, phone in enumerate(trunk.keys)],
                        world.store.stamp())
    assert runner.run(made, until_idle=True) == 5
    results = {c.phone: (c.result, c.ticket is not None) for c in store.contacts(made.id)}
    assert results == {"13900000001": ("completed", False), "13900000002": ("completed", True),
                       "13900000003": ("refused", False), "13900000004": ("wrong_person", False),
                       "13900000005": ("unfinished", True)}
    assert {call.start_function for call in trunk.placed} == {SURVEY}
    # the complaint followed up is not a ticket the answered call would wait for a person with
    assert all(TICKET not in call.slots and "complaint_ticket" in call.slots for call in trunk.placed)
    assert [row["phone"] for row in store.do_not_call()] == ["13900000003"]
    (unhappy,) = [c for c in store.contacts(made.id) if c.phone == "13900000002"]
    assert store.attempts(unhappy.id)[0]["answers"] == {"party": "customer", "satisfaction": "1"}
