"""The function catalog: what callers can ask for, read from the YAML files in `intents/`.

Each function replaces one key-press menu path, so adding a function means editing YAML, not code.
Every `*.yml` file except `dialogue.yml` holds `functions:`, one entry per function:

    intents   the NLU intents that start it          title    how it is named (menus, resuming)
              []: a campaign's script, which only an outbound call naming it opens (it has no menu
              path and is kept apart from what callers ask for: Catalog.outbound)
    menu      its key-press menu path               verify   the caller's PIN is needed first
    hours     when it can be done: {days: [mon, ...], times: ["09:30-11:30", ...], closed: said otherwise}
    slots     what is asked, in order: {type, required, prompt, and checks: min, max, step (a value
              must be a multiple of it), invalid (said when a check fails), values (type choice:
              canonical value -> phrases, the first is how it is said; key N picks the Nth), keys
              (types bill_type and currency: the canonical values keys 1, 2, ... pick; type choice:
              key -> value, when not key N for the Nth), affirm, deny (type choice: the value a
              plain yes or no of the NLU picks, for a yes-or-no question), same_as (type pin: must
              equal that earlier slot, e.g. a new PIN typed twice)}
    opening   said when it starts                   confirm  said before the action runs
    action    the back-end action (adapters/base.py ACTIONS) carried out after confirmation
    params    action param -> "{slot}" or a fixed value; default: each slot as the param of its name
    outcomes  how the action's outcome is said: "ok", a rejection reason, "rejected", "failed" or
              "unknown" -> a template, or {say, ask: a slot to ask again, handoff: a reason to put
              the call through to a person, item: how one entry of the outcome's `items` is said}
    handoff   instead of an action: put the call through to a person, for this reason
    ends      instead of an action: the function ends the call, ending name -> what is then said. After
              its last slot it ends with the first ending; a choice answer named like an ending ends
              it there with that one. The ending is kept with its values as the slot ENDING.
    skill     the agents' skill group that takes its calls when they go to a person (default: general)
    opposite  the function doing the opposite (stock_buy: stock_sell; said on one side or on both
              alike): when the NLU is torn between the two, the caller is asked which they meant

`dialogue.yml` holds `replies:` (answers to intents that are not functions; `nlu_fallback` and
`unknown_intent` must exist), `prompts:` (the dialog's own sentences, all of PROMPTS), `actions:` (the
back-end actions the dialog runs itself, by their role in ENGINE_ACTIONS: `verify_pin` is needed once
a function says `verify`, `sms` once one books callbacks), `terms:` (how back-end codes in outcome
data are said: filled -> 已成交) and `outcomes:`
(the outcome replies of every function unless it says otherwise; "ok", "rejected", "failed" and
"unknown" must exist; "ok" is also said when a function's own ok reply names a value the outcome
lacks), `words:` (domain words callers say beyond titles and menu words, each with the cue words that
make it the likelier reading of a common word heard in its place) and `ask_back:` (`first`, `second`: the words besides keys 1 and 2 and the functions' titles
that pick one of two functions the caller was asked between). Templates are in the language of assistant/template.py: slot names, and in
outcomes also the outcome's data fields and `id`. PIN slots are never said.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from pathlib import Path
from typing import Any

from adapters.base import ACTIONS
from assistant.catalog.template import names
from domain.errors import DataFileError
from domain.yamlfile import LineMap, file_error, load_yaml

SLOT_TYPES = frozenset({
    "amount", "quantity", "price", "stock", "currency", "bill_type", "payee", "phone_number",
    "when", "text", "choice", "pin", "fund", "policy", "product", "date",
})
NUMBER_TYPES = frozenset({"amount", "quantity", "price"})
DIALOGUE_FILE = "dialogue.yml"
FALLBACK = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"  # an NLU intent for requests we do not serve; reported as FALLBACK
# NLU intents the dialog acts on itself (yes, no, a bare slot value, the key menu, goodbye).
AFFIRM, DENY, INFORM, KEY_MENU, GOODBYE = "affirm", "deny", "inform", "key_menu", "goodbye"
DIALOG_ACTS = frozenset({AFFIRM, DENY, INFORM, KEY_MENU, GOODBYE})
UNKNOWN_INTENT = "unknown_intent"
ENDING = "ending"  # how a function with `ends` ended, kept with its values (the turns show it)
OK_OUTCOME = "ok"
REQUIRED_OUTCOMES = (OK_OUTCOME, "rejected", "failed", "unknown")

# The dialog's own sentences in dialogue.yml `prompts:`, each with the names it may use.
PROMPTS: dict[str, frozenset[str]] = {
    "greeting": frozenset(),              # the first words of every inbound call, before the caller speaks
    "agent_call_greeting": frozenset(),   # the first words of an outbound call dialled for an agent (no script)
    "sorry": frozenset(),                 # before asking again what was not understood
    "cancelled": frozenset(),
    "anything_else": frozenset(),         # after a function is done
    "resume": frozenset({"title"}),       # back to a function left for a question in between
    "confirm_again": frozenset(),         # a confirmation answer that was neither yes nor no
    "key_entry": frozenset(),             # offered after a second miss: type the value instead
    "voice_only": frozenset(),            # keys pressed for a question keys cannot answer
    "menu": frozenset({"options"}),
    "menu_option": frozenset({"key", "title"}),
    "menu_invalid": frozenset(),
    "pin": frozenset({"length"}),
    "pin_spoken": frozenset(),            # a PIN must be typed, never said
    "pin_short": frozenset({"length"}),
    "pin_wrong": frozenset({"attempts_left"}),
    "verified": frozenset(),
    "unidentified": frozenset(),          # no customer for the caller's number
    "invalid": frozenset(),               # a value a slot's checks refused, when it says nothing itself
    "handoff": frozenset(),
    "ask_between": frozenset({"first", "second"}),  # which of two functions: their titles, best first
    # Waiting for a person, and callbacks instead (the sms_ ones are text messages).
    "queue_wait": frozenset({"ahead", "minutes"}),  # callers ahead (none: no value) and the predicted wait
    "queue_busy": frozenset({"ahead"}),   # no prediction: nobody staffed, or more calls than agents take
    "callback_offer": frozenset(),
    "agent_connecting": frozenset(),      # on hold: an agent took the call
    "sms_callback": frozenset({"when", "phone"}),  # the booked time, asking for 1 (confirm) or 2 (change)
    "sms_confirmed": frozenset({"when"}),
    "sms_change": frozenset(),            # reply 2: asks for the time that suits
    "sms_unclear": frozenset(),           # a reply that is neither 1, 2 nor a time
    "sms_unreached": frozenset(),         # a campaign's customer every call missed (config.yml campaigns: unreached: sms)
    # ... told by e-mail (subject, then body) or by letter instead: the customer's name when the bank has it
    "email_unreached_subject": frozenset(),
    "email_unreached": frozenset({"name"}),
    "letter_unreached": frozenset({"name"}),
}
# The roles of the back-end actions the dialog runs itself (dialogue.yml `actions:`), each with the
# params the dialog passes it or reads from the function that has it.
ENGINE_ACTIONS: dict[str, frozenset[str]] = {
    "identify": frozenset({"phone"}),  # who calls, by their caller id: -> {customer_id}
    "verify_pin": frozenset({"pin"}),  # the PIN the caller typed
    "callback": frozenset({"phone", "when"}),  # a function with this action books a callback in the queue
    "sms": frozenset({"phone", "text"}),  # tells the caller a booked callback's time
}
MENU_KEYS = "123456789"
DEFAULT_SKILL = "general"
_SKILL = re.compile(r"[a-z][a-z_]*")
WEEKDAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}

_FUNCTION_KEYS = frozenset({
    "intents", "title", "menu", "verify", "hours", "slots", "opening", "confirm", "action", "params",
    "outcomes", "handoff", "ends", "skill", "opposite",
})
_SLOT_KEYS = frozenset({
    "type", "required", "prompt", "min", "max", "step", "invalid", "values", "keys", "affirm", "deny", "same_as",
})
_OUTCOME_KEYS = frozenset({"say", "ask", "handoff", "item"})
_HOURS_KEYS = frozenset({"days", "times", "closed"})
_SPAN = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")


@dataclass(frozen=True)
class Choice:
    value: str  # what the back end gets
    phrases: tuple[str, ...]  # what callers say; the first is how it is said back


@dataclass(frozen=True)
class SlotSpec:
    name: str
    type: str
    required: bool
    prompt: str
    min: float | None = None
    max: float | None = None
    step: float | None = None
    invalid: str | None = None
    choices: tuple[Choice, ...] = ()
    keys: tuple[str, ...] = ()  # canonical values picked by keys 1, 2, ... ("": that key picks none)
    affirm: str | None = None  # the choice a plain yes picks
    deny: str | None = None  # ... and a plain no
    same_as: str | None = None

    @property
    def secret(self) -> bool:
        return self.type == "pin"


@dataclass(frozen=True)
class OutcomeReply:
    say: str
    ask: str | None = None  # the slot whose value the back end refused: asked again
    handoff: str | None = None  # the call goes to a person, for this reason
    item: str | None = None  # how one entry of the outcome's data["items"] is said


@dataclass(frozen=True)
class Hours:
    days: frozenset[int]  # ISO weekdays
    spans: tuple[tuple[time, time], ...]
    closed: str

    def open_at(self, moment: datetime) -> bool:
        now = moment.time()
        return moment.isoweekday() in self.days and any(start <= now < end for start, end in self.spans)


@dataclass(frozen=True)
class Param:
    slot: str | None  # the slot whose value it takes, or None for a fixed value
    value: Any = None


@dataclass(frozen=True)
class FunctionSpec:
    id: str
    title: str
    intents: tuple[str, ...]
    slots: tuple[SlotSpec, ...]  # in file order, which is the order they are asked for
    opening: str
    confirm: str | None  # None: nothing to confirm (queries, transfer to an agent)
    action: str | None  # the back-end action that carries it out
    verify: bool  # the caller must be verified first
    menu: tuple[str, ...]  # the key-press menu path this function replaces
    params: dict[str, Param] = field(default_factory=dict)
    outcomes: dict[str, OutcomeReply] = field(default_factory=dict)
    hours: Hours | None = None
    handoff: str | None = None
    skill: str = DEFAULT_SKILL
    opposite: str | None = None  # the function that does the opposite (both name each other once loaded)
    ends: dict[str, str] = field(default_factory=dict)  # ending -> what is said; the first after the last slot

    @property
    def outbound(self) -> bool:
        """Opened only by an outbound call that names it (no caller asks for it)."""
        return not self.intents

    def slot(self, name: str) -> SlotSpec:
        return next(slot for slot in self.slots if slot.name == name)


@dataclass(frozen=True)
class EngineActions:
    """The back-end action of each role in ENGINE_ACTIONS; None: the catalog names none."""

    identify: str | None = None
    verify_pin: str | None = None
    callback: str | None = None
    sms: str | None = None


@dataclass(frozen=True)
class AskBackWords:
    """Words that pick the first or the second of two functions the caller is asked between."""

    first: tuple[str, ...] = ()
    second: tuple[str, ...] = ()


@dataclass
class MenuNode:
    title: str
    function: str | None = None  # set on leaves
    children: list[MenuNode] = field(default_factory=list)

    def child(self, title: str) -> MenuNode | None:
        return next((node for node in self.children if node.title == title), None)


class Catalog:
    def __init__(self, functions: dict[str, FunctionSpec], replies: dict[str, str],
                 prompts: dict[str, str], terms: dict[str, str], outcomes: dict[str, OutcomeReply],
                 menu: MenuNode, actions: EngineActions = EngineActions(),
                 ask_back: AskBackWords = AskBackWords(), words: dict[str, tuple[str, ...]] | None = None,
                 outbound: dict[str, FunctionSpec] | None = None) -> None:
        self.functions = functions  # what callers ask for
        self.outbound = outbound or {}  # what outbound calls open with (campaigns' scripts)
        self.words = words or {}  # domain word -> cue words (dialogue.yml `words:`)
        self.replies = replies
        self.prompts = prompts
        self.actions = actions
        self.terms = terms
        self.outcomes = outcomes
        self.menu = menu
        self.ask_back = ask_back
        self._by_intent = {
            intent: function for function in functions.values() for intent in function.intents
        }

    def function_for(self, intent: str) -> FunctionSpec | None:
        return self._by_intent.get(intent)

    def outcome_reply(self, function: FunctionSpec | None, status: str, reason: str | None) -> OutcomeReply:
        """The reply for an outcome: by reason before by status, the function's before dialogue.yml's."""
        sources = (function.outcomes, self.outcomes) if function else (self.outcomes,)
        for key in (reason, status):
            for replies in sources:
                if key in replies:
                    return replies[key]
        return self.outcomes[status]  # KeyError for a status dialogue.yml does not know

    def skills(self) -> frozenset[str]:
        return frozenset(function.skill for function in self.functions.values())

    def vocabulary(self) -> list[str]:
        """Titles, menu words and domain words, each once: phrases for ASR biasing and pinyin repair."""
        phrases = (p for f in self.functions.values() for p in (f.title, *f.menu))
        return list(dict.fromkeys((*phrases, *self.words)))

    @classmethod
    def load(cls, directory: Path) -> Catalog:
        functions: dict[str, FunctionSpec] = {}
        outbound: dict[str, FunctionSpec] = {}
        opposites: dict[str, tuple[Path, int]] = {}  # function id -> where its `opposite:` is
        claimed: dict[str, tuple[str, str]] = {}  # intent -> (function id, "file:line")
        menu = MenuNode("")
        paths = sorted(p for p in directory.glob("*.yml") if p.name != DIALOGUE_FILE)
        if not paths:
            raise DataFileError("no function files (*.yml)", directory)
        for path in paths:
            for function, lines in _read_functions(path):
                if function.id in functions or function.id in outbound:
                    raise file_error(path, lines["id"], f"function '{function.id}' is defined twice")
                (outbound if function.outbound else functions)[function.id] = function
                for intent in function.intents:
                    if intent in claimed:
                        owner, where = claimed[intent]
                        raise file_error(path, lines["intents"], f"intent '{intent}' is already "
                                                                 f"claimed by function '{owner}' ({where})")
                    claimed[intent] = (function.id, f"{path}:{lines['intents']}")
                if function.menu:
                    _add_to_menu(menu, function, path, lines["menu"])
                if function.opposite:
                    opposites[function.id] = (path, lines["opposite"])
        _pair_opposites(functions, opposites)
        *dialogue, actions, ask_back, words = _read_dialogue(directory / DIALOGUE_FILE, claimed,
                                                             {**functions, **outbound})
        return cls(functions, *dialogue, menu, actions, ask_back, words, outbound)


def _pair_opposites(functions: dict[str, FunctionSpec], said: dict[str, tuple[Path, int]]) -> None:
    """Each `opposite:` names another function, which names it back or nothing; both end up naming
    each other, and a function has one opposite at most."""
    pairs: dict[str, str] = {}
    for fid, (path, line) in said.items():
        other = functions[fid].opposite
        if other not in functions or other == fid:
            raise file_error(path, line, f"function '{fid}': opposite: '{other}' is no other function")
        for one, two in ((fid, other), (other, fid)):
            if pairs.setdefault(one, two) != two:
                raise file_error(path, line, f"function '{fid}': opposite: '{one}' is already the opposite "
                                             f"of '{pairs[one]}'")
    for one, two in pairs.items():
        functions[one] = replace(functions[one], opposite=two)


def _add_to_menu(root: MenuNode, function: FunctionSpec, path: Path, line: int) -> None:
    node = root
    for depth, title in enumerate(function.menu):
        child = node.child(title)
        if child is None:
            if len(node.children) == len(MENU_KEYS):
                raise file_error(path, line, f"menu: '{node.title or 'the top menu'}' would have more "
                                             f"than {len(MENU_KEYS)} options")
            child = MenuNode(title)
            node.children.append(child)
        last = depth == len(function.menu) - 1
        if child.function or (last and child.children):
            raise file_error(path, line, f"menu: {'/'.join(function.menu)} and another function's "
                                         "path overlap (a function's path may not lead on to others)")
        node = child
    node.function = function.id


class _Fields:
    """Typed access to one YAML mapping, with file:line errors."""

    def __init__(self, path: Path, mapping: Any, line: int, what: str, allowed: frozenset[str]):
        if not isinstance(mapping, LineMap):
            raise file_error(path, line, f"{what} must be a mapping")
        for key in mapping:
            if key not in allowed:
                raise file_error(path, mapping.line_of(key), f"{what}: unknown key {key!r}")
        self.path, self.mapping, self.line, self.what = path, mapping, line, what

    def error(self, key: str, problem: str) -> DataFileError:
        return file_error(self.path, self.mapping.line_of(key), f"{self.what}: {problem}")

    def get(self, key: str, kind: type, default: Any = ...) -> Any:
        """The value of `key` (a non-empty str, a bool, a number, a list of words or a mapping).

        Without a default the key is required; null counts as absent.
        """
        value = self.mapping.get(key)
        if value is None:
            if default is ...:
                raise file_error(self.path, self.line, f"{self.what}: missing '{key}'")
            return default
        if kind is list:
            ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
        elif kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
        else:
            ok = isinstance(value, kind) and value != ""
        if not ok:
            expected = {str: "text", bool: "true or false", list: "a list of words",
                        LineMap: "a mapping", float: "a number above 0"}[kind]
            raise self.error(key, f"'{key}' must be {expected}")
        return float(value) if kind is float else value

    def template(self, key: str, known: set[str] | None, optional: set[str] = frozenset(),
                 never: set[str] = frozenset(), default: Any = ...) -> str | None:
        """A template under `key` whose names are `known` (None: any) and never a `never` one;
        names in `optional` may have no value when it is said, so they must sit inside [...]."""
        text = self.get(key, str, default)
        if text is not None:
            _check_template(self, key, text, known, optional, never)
        return text


def _check_template(fields: _Fields, key: str, text: str, known: set[str] | None,
                    optional: set[str], never: set[str]) -> None:
    try:
        found = list(names(text))
    except ValueError as error:
        raise fields.error(key, f"{key}: {error}") from error
    for name, in_section in found:
        if name in never:
            raise fields.error(key, f"{key} names '{name}', which is never said")
        if known is not None and name not in known:
            raise fields.error(key, f"{key} names slot '{name}', which is not one of: "
                                    f"{', '.join(sorted(known)) or 'none'}")
        if name in optional and not in_section:
            raise fields.error(key, f"{key}: '{name}' may have no value yet, so put it inside [...]")


def _top_level(path: Path, sections: frozenset[str], required: tuple[str, ...]) -> _Fields:
    fields = _Fields(path, load_yaml(path), 1, path.name, sections)
    for section in required:
        fields.get(section, LineMap)
    return fields


def _read_functions(path: Path) -> Iterator[tuple[FunctionSpec, dict[str, int]]]:
    """The file's functions, each with the lines of its id, intents and menu."""
    specs = _top_level(path, frozenset({"functions"}), ("functions",)).mapping["functions"]
    for fid, spec in specs.items():
        function = _read_function(path, str(fid), spec, specs.line_of(fid))
        yield function, {"id": specs.line_of(fid), "intents": spec.line_of("intents"),
                         "menu": spec.line_of("menu"), "opposite": spec.line_of("opposite")}


def _read_function(path: Path, fid: str, spec: Any, line: int) -> FunctionSpec:
    fields = _Fields(path, spec, line, f"function '{fid}'", _FUNCTION_KEYS)
    slot_specs = fields.get("slots", LineMap, LineMap())
    slots: list[SlotSpec] = []
    for name, slot in slot_specs.items():
        slots.append(_read_slot(path, fid, str(name), slot, slot_specs.line_of(name), slots))
    all_slots = {slot.name for slot in slots}
    secret = {slot.name for slot in slots if slot.secret}
    optional = {slot.name for slot in slots if not slot.required}
    intents = fields.get("intents", list)
    if not intents and "menu" in fields.mapping:
        raise fields.error("menu", "a function with no intents is opened by the outbound call that names it: "
                                   "no 'menu'")
    action, handoff = fields.get("action", str, None), fields.get("handoff", str, None)
    ends = _read_ends(fields, slots, secret)
    if [action, handoff, ends or None].count(None) != 2:
        raise file_error(path, line, f"function '{fid}': give either 'action' or 'handoff' "
                                     "(or 'ends': it ends the call)")
    return FunctionSpec(
        id=fid,
        title=fields.get("title", str),
        intents=tuple(intents),
        slots=tuple(slots),
        opening=fields.template("opening", all_slots, optional=all_slots, never=secret),
        confirm=fields.template("confirm", all_slots, optional=optional, never=secret, default=None),
        action=action,
        verify=fields.get("verify", bool, False),
        menu=tuple(fields.get("menu", list, [])),
        params=_read_params(fields, action, slots) if action else {},
        outcomes=_read_outcomes(fields, "outcomes", all_slots, None, secret,
                                required=(OK_OUTCOME,) if action else ()),
        hours=_read_hours(path, fields) if "hours" in fields.mapping else None,
        handoff=handoff,
        skill=_read_skill(fields),
        opposite=fields.get("opposite", str, None),
        ends=ends,
    )


def _read_ends(fields: _Fields, slots: list[SlotSpec], secret: set[str]) -> dict[str, str]:
    ends = fields.get("ends", LineMap, LineMap())
    if not ends:
        return {}
    names = {slot.name for slot in slots}
    if ENDING in names:
        raise fields.error("ends", f"ends: a slot named '{ENDING}' would be overwritten by the ending")
    answers = {choice.value for slot in slots for choice in slot.choices}
    entries = _Fields(fields.path, ends, fields.mapping.line_of("ends"), f"{fields.what} ends",
                      frozenset(str(name) for name in ends))
    for name in list(entries.mapping)[1:]:  # the first is reached after the last slot
        if name not in answers:
            raise entries.error(name, f"'{name}' is no choice value of a slot, so no answer reaches it")
    return {str(name): str(entries.template(str(name), names, optional=names, never=secret)) for name in ends}


def _read_skill(fields: _Fields) -> str:
    skill = fields.get("skill", str, DEFAULT_SKILL)
    if not _SKILL.fullmatch(skill):
        raise fields.error("skill", f"skill: '{skill}' must be a lower-case word (letters and _)")
    return skill


def _read_slot(path: Path, fid: str, name: str, spec: Any, line: int, earlier: list[SlotSpec]) -> SlotSpec:
    what = f"function '{fid}' slot '{name}'"
    fields = _Fields(path, spec, line, what, _SLOT_KEYS)
    if not name.isidentifier():
        raise file_error(path, line, f"function '{fid}': slot name '{name}' must be a word "
                                     "(letters, digits, _)")
    kind = fields.get("type", str)
    if kind not in SLOT_TYPES:
        raise fields.error("type", f"unknown type '{kind}' (known: {', '.join(sorted(SLOT_TYPES))})")
    for key, types in (("min", NUMBER_TYPES), ("max", NUMBER_TYPES), ("step", NUMBER_TYPES), ("values", {"choice"}),
                       ("keys", {"bill_type", "currency", "choice"}), ("affirm", {"choice"}), ("deny", {"choice"}),
                       ("same_as", {"pin"})):
        if key in fields.mapping and kind not in types:
            raise fields.error(key, f"'{key}' is for slots of type {' or '.join(sorted(types))}")
    same_as = fields.get("same_as", str, None)
    if same_as is not None and not any(s.name == same_as and s.secret for s in earlier):
        raise fields.error("same_as", f"same_as: '{same_as}' is not an earlier pin slot")
    slot = SlotSpec(
        name=name, type=kind, required=fields.get("required", bool, False),
        prompt=fields.template("prompt", set()),
        min=fields.get("min", float, None), max=fields.get("max", float, None),
        step=fields.get("step", float, None), invalid=fields.template("invalid", set(), default=None),
        same_as=same_as,
    )
    if kind == "choice":
        choices = _read_choices(path, fields)
        values = tuple(choice.value for choice in choices)
        slot = replace(slot, choices=choices, keys=_choice_keys(fields, values) if "keys" in fields.mapping else values,
                       affirm=_one_of(fields, "affirm", values), deny=_one_of(fields, "deny", values))
    elif "keys" in fields.mapping:
        keys = fields.get("keys", list)
        if len(keys) > len(MENU_KEYS):
            raise fields.error("keys", f"keys: at most {len(MENU_KEYS)}")
        slot = replace(slot, keys=tuple(keys))
    if slot.secret and not slot.required:
        raise fields.error("required", "a pin slot must be required")
    if slot.min is not None and slot.max is not None and slot.min > slot.max:
        raise fields.error("max", "max is below min")
    return slot


def _read_choices(path: Path, fields: _Fields) -> tuple[Choice, ...]:
    values = fields.get("values", LineMap)
    choices = []
    for value, phrases in values.items():
        if not (isinstance(phrases, list) and phrases and all(isinstance(p, str) and p for p in phrases)):
            raise file_error(path, values.line_of(value), f"{fields.what}: values: '{value}' must list "
                                                          "the phrases callers say for it")
        choices.append(Choice(str(value), tuple(phrases)))
    if len(choices) > len(MENU_KEYS):
        raise fields.error("values", f"values: at most {len(MENU_KEYS)} (one key each)")
    return tuple(choices)


def _choice_keys(fields: _Fields, values: tuple[str, ...]) -> tuple[str, ...]:
    """A choice slot's `keys:` (key -> value) as the values keys 1, 2, ... pick, "" for none."""
    keys = fields.get("keys", LineMap)
    picks = {str(key): str(value) for key, value in keys.items()}
    if not picks:
        raise fields.error("keys", "keys: give at least one key -> value")
    for key, value in picks.items():
        if len(key) != 1 or key not in MENU_KEYS or value not in values:
            raise fields.error("keys", f"keys: {key}: {value} must be a key 1-9 and one of the values "
                                       f"({', '.join(values)})")
    last = max(MENU_KEYS.index(key) for key in picks)
    return tuple(picks.get(key, "") for key in MENU_KEYS[:last + 1])


def _one_of(fields: _Fields, key: str, values: tuple[str, ...]) -> str | None:
    value = fields.get(key, str, None)
    if value is not None and value not in values:
        raise fields.error(key, f"{key}: '{value}' is not one of the values ({', '.join(values)})")
    return value


def _read_params(fields: _Fields, action: str, slots: list[SlotSpec]) -> dict[str, Param]:
    spec = ACTIONS.get(action)
    if spec is None:
        raise fields.error("action", f"unknown action '{action}' (the actions are listed in adapters/base.py)")
    allowed = set(spec.required) | set(spec.optional)
    required_slots = {slot.name for slot in slots if slot.required}
    if "params" in fields.mapping:
        mapping = fields.get("params", LineMap)
        params = {str(name): _read_param(fields, value, {s.name for s in slots}) for name, value in mapping.items()}
    else:
        params = {slot.name: Param(slot.name) for slot in slots}
    for name, param in params.items():
        if name not in allowed:
            raise fields.error("params" if "params" in fields.mapping else "slots",
                               f"'{name}' is not a param of {action} (it takes: {', '.join(sorted(allowed)) or 'none'}); "
                               "map slots to params under 'params'")
    fed = {param.slot for param in params.values()}
    for slot in slots:
        if slot.name not in fed and slot.same_as is None:
            raise fields.error("slots", f"slot '{slot.name}' feeds no param of {action}; map it under 'params'")
    for name in spec.required:
        param = params.get(name)
        if param is None or (param.slot is not None and param.slot not in required_slots):
            raise fields.error("params" if "params" in fields.mapping else "action",
                               f"{action} needs '{name}' from a fixed value or a required slot")
    return params


def _read_param(fields: _Fields, value: Any, slots: set[str]) -> Param:
    if isinstance(value, str) and value.startswith("{"):
        name = value[1:-1] if value.endswith("}") else ""
        if name not in slots:
            raise fields.error("params", f"params: '{value}' names no slot of the function")
        return Param(name)
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise fields.error("params", f"params: {value!r} must be \"{{slot}}\" or a fixed text or number")
    return Param(None, value)


def _read_outcomes(fields: _Fields, key: str, slots: set[str], known: set[str] | None,
                   secret: set[str], required: tuple[str, ...]) -> dict[str, OutcomeReply]:
    """Outcome replies naming `known` values (None: slots and any data field of the outcome)."""
    mapping = fields.get(key, LineMap, LineMap())
    replies = {}
    for name, spec in mapping.items():
        line = mapping.line_of(name)
        if isinstance(spec, str):  # the short form: just what is said
            spec = LineMap(line)
            spec["say"] = mapping[name]
        entry = _Fields(fields.path, spec, line, f"{fields.what} {key} '{name}'", _OUTCOME_KEYS)
        ask = entry.get("ask", str, None)
        if ask is not None and ask not in slots:
            raise entry.error("ask", f"ask: '{ask}' is not a slot of the function")
        replies[str(name)] = OutcomeReply(
            say=entry.template("say", known, never=secret), ask=ask,
            handoff=entry.get("handoff", str, None), item=entry.template("item", known, default=None),
        )
    for needed in required:
        if needed not in replies:
            raise fields.error(key, f"{key}: missing '{needed}'")
    return replies


def _read_hours(path: Path, fields: _Fields) -> Hours:
    hours = _Fields(path, fields.mapping["hours"], fields.mapping.line_of("hours"),
                    f"{fields.what} hours", _HOURS_KEYS)
    days = hours.get("days", list)
    if not days or any(day not in WEEKDAYS for day in days):
        raise hours.error("days", f"days: a list of {', '.join(WEEKDAYS)}")
    spans = []
    for text in hours.get("times", list):
        match = _SPAN.fullmatch(text)
        try:
            start, end = (time(int(match[1]), int(match[2])), time(int(match[3]), int(match[4]))) if match else (None, None)
        except ValueError:
            start = end = None
        if start is None or end is None or start >= end:
            raise hours.error("times", f"times: '{text}' must be a span like \"09:30-11:30\"")
        spans.append((start, end))
    return Hours(frozenset(WEEKDAYS[d] for d in days), tuple(spans), hours.template("closed", set()))


def _read_dialogue(path: Path, function_intents: dict[str, tuple[str, str]], functions: dict[str, FunctionSpec]
                   ) -> tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, OutcomeReply], EngineActions,
                              AskBackWords, dict[str, tuple[str, ...]]]:
    fields = _top_level(path, frozenset({"replies", "prompts", "actions", "terms", "outcomes", "ask_back", "words"}),
                        ("replies", "prompts", "outcomes"))
    replies = fields.mapping["replies"]
    for intent, reply in replies.items():
        if not isinstance(reply, str) or not reply:
            raise file_error(path, replies.line_of(intent), f"reply '{intent}' must be text")
        if intent in function_intents:
            owner, where = function_intents[intent]
            raise file_error(path, replies.line_of(intent),
                             f"intent '{intent}' is already claimed by function '{owner}' ({where})")
    for needed in (FALLBACK, UNKNOWN_INTENT):
        if needed not in replies:
            raise file_error(path, fields.mapping.line_of("replies"), f"replies: missing '{needed}'")
    prompts_fields = _Fields(path, fields.mapping["prompts"], fields.mapping.line_of("prompts"), "prompts",
                             frozenset(PROMPTS))
    prompts = {name: prompts_fields.template(name, set(known)) for name, known in PROMPTS.items()}
    terms = fields.get("terms", LineMap, LineMap())
    for code, words in terms.items():
        if not isinstance(words, str) or not words:
            raise file_error(path, terms.line_of(code), f"terms: '{code}' must be the words said for it")
    outcomes = _read_outcomes(fields, "outcomes", set(), set(), set(), REQUIRED_OUTCOMES)
    actions = _read_engine_actions(fields, functions)
    words = _Fields(path, fields.get("ask_back", LineMap, LineMap()), fields.mapping.line_of("ask_back"), "ask_back",
                    frozenset({"first", "second"}))
    ask_back = AskBackWords(tuple(words.get("first", list, [])), tuple(words.get("second", list, [])))
    if set(ask_back.first) & set(ask_back.second):
        raise fields.error("ask_back", "ask_back: a word may pick the first or the second, not both")
    return (dict(replies), prompts, {str(code): words for code, words in terms.items()}, outcomes, actions, ask_back,
            _read_words(path, fields.get("words", LineMap, LineMap())))


def _read_words(path: Path, words: LineMap) -> dict[str, tuple[str, ...]]:
    """dialogue.yml `words:`: each domain word with its list of cue words (may be empty)."""
    read = {}
    for word, cues in words.items():
        if not isinstance(word, str) or len(word) < 2:
            raise file_error(path, words.line_of(word), f"words: {word!r} must be a word of two or more characters")
        if not isinstance(cues, list) or not all(isinstance(c, str) and c for c in cues):
            raise file_error(path, words.line_of(word), f"words: '{word}' needs a list of cue words ([] for none)")
        read[word] = tuple(cues)
    return read


def _read_engine_actions(fields: _Fields, functions: dict[str, FunctionSpec]) -> EngineActions:
    mapping = fields.get("actions", LineMap, LineMap())
    entries = _Fields(fields.path, mapping, fields.mapping.line_of("actions"), "actions", frozenset(ENGINE_ACTIONS))
    named = {}
    for role, passed in ENGINE_ACTIONS.items():
        action = entries.get(role, str, None)
        if action is None:
            continue
        spec = ACTIONS.get(action)
        if spec is None:
            raise entries.error(role, f"{role}: unknown action '{action}' (the actions are listed in adapters/base.py)")
        accepted = set(spec.required) | set(spec.optional)
        if not set(spec.required) <= passed <= accepted:
            raise entries.error(role, f"{role}: {action} must take {', '.join(sorted(passed))} "
                                      f"(it takes: {', '.join(sorted(accepted)) or 'none'})")
        named[role] = action
    verifying = next((f.id for f in functions.values() if f.verify), None)
    if verifying and "verify_pin" not in named:
        raise fields.error("actions", f"actions: missing 'verify_pin' (function '{verifying}' says verify)")
    if "callback" in named and "sms" not in named:
        raise entries.error("callback", "actions: missing 'sms' (booked callbacks are told by SMS)")
    return EngineActions(**named)

