"""Who the caller is: the customer their caller id names (looked up once), and their PIN, typed.

The back-end actions for both are the catalog's (dialogue.yml `actions:` identify, verify_pin).
"""
from __future__ import annotations

from adapters.base import OK, REJECTED, Outcome, action_spec
from assistant.catalog.catalog import Catalog, FunctionSpec
from assistant.catalog.template import render
from assistant.dialog.actions import Actions
from assistant.dialog.wording import Wording

WRONG_PIN = "wrong_pin"  # the back end's rejection of a wrong PIN that is not the last allowed
LOCKED = "locked"  # the back end's rejection of any action once wrong PINs locked the customer out


class Verification:
    def __init__(self, actions: Actions, catalog: Catalog, wording: Wording, pin_length: int,
                 caller: str | None) -> None:
        self.actions = actions
        self.engine = catalog.actions
        self.prompts = catalog.prompts
        self.wording = wording
        self.pin_length = pin_length
        self.caller = caller
        self.customer: str | None = None
        self.identify_tried = False
        self.verifying = False  # a PIN has been asked for
        self.verified = False
        self.locked = False  # an outcome said the PIN is locked

    def need(self, function: FunctionSpec) -> str:
        """How much the function needs the customer: "required", "optional" or "none"."""
        if function.verify:
            return "required"
        return action_spec(function.action).customer if function.action else "none"

    def identify(self, need: str) -> Outcome | None:
        """Looks the caller id up, once, when `need` can use the customer; the outcome if the back end
        broke (the lookup is tried again later)."""
        if need == "none" or self.customer is not None or not self.caller or self.identify_tried:
            return None
        if self.engine.identify is None:
            self.identify_tried = True  # the catalog names no lookup: callers stay unidentified
            return None
        outcome = self.actions.run(self.engine.identify, {"phone": self.caller}, None)
        if outcome.status == OK:
            self.customer = outcome.data["customer_id"]
        self.identify_tried = outcome.status in (OK, REJECTED)
        return None if self.identify_tried else outcome

    def check(self, pin: str) -> Outcome:
        """The back end's verdict on a whole PIN; verified once it is right."""
        assert self.engine.verify_pin is not None  # the catalog names it wherever a function verifies
        outcome = self.actions.run(self.engine.verify_pin, {"pin": pin}, self.customer)
        if outcome.status == OK:
            self.verifying, self.verified = False, True
        elif outcome.reason != WRONG_PIN:
            self.verifying = False
        return outcome

    def prompt(self) -> str:
        return render(self.prompts["pin"], {"length": str(self.pin_length)})

    def too_short(self, keys: str) -> str | None:
        """What is said when `keys` are not a whole PIN (that costs no attempt)."""
        if len(keys) == self.pin_length:
            return None
        return render(self.prompts["pin_short"], {"length": str(self.pin_length)})

    def wrong(self, outcome: Outcome) -> str:
        attempts = self.wording.value(outcome.data.get("attempts_left", ""))
        return render(self.prompts["pin_wrong"], {"attempts_left": attempts})

    @property
    def status(self) -> str:
        """How far verification got, as a hand-off ticket says it."""
        if self.locked:
            return "locked"
        if self.verified:
            return "verified"
        return "unidentified" if self.identify_tried and self.customer is None else "unverified"
