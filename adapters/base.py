"""The seam between the dialog policy and the back-end systems: one call, one outcome.

    backend.run("banking.transfer", {"payee": "李四", "amount": "500"}, customer_id="C0001", key=key)
    -> Outcome(status="ok", id="T202501060001", data={"payee": "李四", "amount": "500.00", ...})

`key` is the idempotency key: the same key always gives the same Outcome and the action runs at most
once, so after an "unknown" outcome the policy runs the same action again with the same key to settle
it. Make a new key for every run that is meant to happen (one per confirmed transaction, one per PIN
attempt, one per query: a stored outcome, a rejection included, is all a reused key ever gets). The
same key with other params is rejected with reason "key_reused". Every run is audited with PINs
hidden and card, account and phone numbers cut to their last 4 digits.

Statuses and their reasons:
- "ok"
- "rejected": a business rule said no; `reason` says which (below), `data` may say more.
- "failed": nothing happened; a new attempt may succeed. backend_error (the sandbox broke),
  unreachable (no connection to the core system), http_500 / http_503 (it answered that it failed),
  another http_4xx (it refused the request as malformed).
- "unknown": the answer was lost after the request went out: timeout, connection_lost, http_502 /
  http_504 (a proxy's), bad_response. Run the same action again with the same key to settle it.

Params: amounts and prices are decimal strings or numbers in yuan (CNY, at most 2 decimals; forex
amounts in the foreign currency); `quantity` whole shares (a lot is 100); `stock` a 6-digit code from
nlu_data/lookups/stocks.yml; `currency` an ISO 4217 code from currencies.yml; `bill_type` a canonical
value from bill_types.yml; dates and times ISO 8601. In `data`, money is a string with 2 decimals
("50000.00"), forex rates have 4, percentages 2; times are "YYYY-MM-DD HH:MM:SS" Beijing time.

Refusals that any action may give: bad_request {problem} (a param that cannot be read: a negative
amount, a 5-digit stock code, a missing or unexpected param); unidentified (an action that needs a
caller, run with customer_id=None or an id the bank does not know); locked {attempts_left: 0} (3
wrong PINs locked the customer out of everything but banking.report_card_loss); key_reused. An
action name not listed below raises BackendError: a mistake in intents/, not something a caller did.

Actions: params -> data; `id` is what the action created (None when it created nothing); "no
customer" = customer_id is not used.

banking.identify {phone} -> {customer_id, name}                      no customer; phone as caller id
    rejected: unknown_caller
banking.verify_pin {pin} -> {attempts_left}                          3 wrong PINs in a row lock
    rejected: wrong_pin {attempts_left: 2 | 1}, locked {attempts_left: 0} (the third wrong PIN);
    a pin that is not 6 digits is bad_request and does not count
banking.balance {} -> {balance, currency: "CNY", account: "尾号1234"}  the debit card account
banking.history {since?, until?} -> {items: [{date, amount, description}], count, since, until}
    dates "YYYY-MM-DD", both inclusive; default the 30 days up to today; items newest first, at most
    10; amount signed ("-200.00" went out); count = all items in the range
banking.transfer {payee, amount} -> {payee, bank, account, amount, balance_after}   id = transaction
    payee: a saved payee's name (李四) or a full account number at this bank; bank "本行" or the
    payee's bank; account = the payee's, as "尾号5678"
    rejected: unknown_payee, limit_exceeded {limit, left} (50,000.00 a day by phone),
    insufficient_funds {balance}
banking.report_card_loss {card?: "debit" | "credit"} -> {card, account}   id = loss report number
    card None = "debit"; rejected: already_reported {card, report}, no_card
banking.change_pin {old_pin, new_pin} -> {}
    rejected: wrong_pin {attempts_left} / locked (as verify_pin), weak_pin {problem} (not 6 digits,
    all one digit, a run such as 123456 or 654321, or the old PIN again)

securities.quote {stock} -> {stock, name, price, change_pct, prev_close, time}      no customer
    rejected: unknown_stock
securities.place_order {side: "buy" | "sell", stock, quantity, price?} -> {order_id, status, name,
        side, stock, price, quantity, amount, fee}                   id = order id
    price None = a market order, filled now at the last price; a limit order is filled now at the last
    price if that is as good, else rests ("open") until the price feed reaches the limit (filled at
    the limit, with an SMS) or the day closes at 15:00 ("expired"). status "filled" | "open";
    price = fill price or limit; amount = price × quantity; fee = commission 0.025 % (at least 5.00)
    + stamp duty 0.05 % on sells (for an open order, what it will cost); an open buy holds amount+fee.
    rejected: market_closed (open 09:30-11:30 and 13:00-15:00 Monday to Friday, Beijing time),
    price_limit {low, high} (±10 % of the previous close; ±20 % for 300xxx, 301xxx, 688xxx),
    lot_size {lot: 100} (buy in 100s; sell in 100s or the whole holding),
    insufficient_funds {available}, insufficient_shares {available}, unknown_stock
securities.cancel_order {order_id?} -> {order_id, name, side, quantity, price}   id = order id
    order_id None = the latest open order
    rejected: no_open_order, unknown_order {order_id}, not_open {order_id, status}
securities.orders {} -> {items: [{order_id, time, side, stock, name, quantity, price, status}], count}
    newest first; status open | filled | cancelled | expired
securities.positions {} -> {items: [{stock, name, quantity, price, value}], cash, available, total}
    price = the last price; cash = the securities account; available = cash not held by open buys;
    total = cash + the value of every holding
securities.bank_transfer {direction: "to_securities" | "to_bank", amount} -> {amount, bank_balance,
        securities_cash}                                             id = transaction id
    rejected: insufficient_funds {balance | available}
securities.price_alert {stock, price, direction?: "above" | "below"} -> {stock, name, price,
        direction}                                                   id = alert id
    direction None = "above" if the target is over the last price, else "below"; the alert fires
    once, when the feed reaches the target, as an SMS to the customer's phone
    rejected: unknown_stock

securities.trades {} -> {items: [{date, side, stock, name, quantity, price, amount}], count}
    filled orders of the last 30 days, newest first (历史成交)
securities.custody {} -> {account, custodian, sh_account, sz_account, holdings}
    where the customer's shares are held: the securities account and the shareholder accounts (as
    "尾号1234"), the custodian branch, and how many stocks are held
    Every fill (at once or later from the feed) sends the customer an SMS with the order's result.

insurance.policies {policy?} -> {items: [{policy, number, name, status, coverage, premium, next_due}],
        count}                                                       the customer's policies
    policy: a type (car, life, from nlu_data/lookups/policies.yml) or a 10-digit policy number;
    None = all of them; status in_force | grace_period; rejected: unknown_policy
insurance.report_claim {policy, date, place, description, injured: "yes" | "no"} -> {claim_id,
        policy, name, date, phone}                                   id = claim number, e.g. LP202501060001
    a first notice of loss; the claim number is also sent by SMS to the customer's phone;
    rejected: unknown_policy, future_date, not_covered {date} (the date lies outside the policy's term)
insurance.claims {} -> {items: [{claim_id, policy, name, date, status}], count}   newest first
    status reported | reviewing | settled; rejected: no_claims
insurance.pay_premium {policy?} -> {policy, name, amount, paid_through, balance_after}
        id = transaction id; from the debit account to the insurer; policy None = the one due
    soonest; rejected: unknown_policy, nothing_due (no premium due in the next 60 days),
    insufficient_funds {balance}
insurance.policy_loan {policy?} -> {policy, name, cash_value, available, rate, months}
    policy None = the first with a cash value; available = 80 % of the cash value
    rejected: unknown_policy, no_loan {name}
insurance.change_phone {phone} -> {count, phone}                     every policy's contact phone
    phone: an 11-digit mobile; said back as "尾号1234"; an SMS to the new number confirms it

funds.nav {fund} -> {fund, name, nav, nav_date}                      no customer
    fund: a 6-digit code from nlu_data/lookups/funds.yml; nav with 4 decimals; rejected: unknown_fund
funds.subscribe {fund, amount} -> {order_id, fund, name, amount, trade_date, late}   id = order id
    from the debit account; trade_date = the day whose NAV prices it: today before 15:00 on a trading
    day, else the next trading day (then `late` says so, else it is absent)
    rejected: unknown_fund, insufficient_funds {balance}
funds.redeem {fund, shares} -> {order_id, fund, name, shares, trade_date, late}     id = order id
    shares with at most 2 decimals; the money reaches the debit account when the order is priced
    rejected: unknown_fund, insufficient_shares {name, available}
funds.positions {} -> {items: [{fund, name, shares, nav, value}], count, total, pending?}
    orders are priced at 15:00 of their trade date (first: subscriptions become shares, redemptions
    money); pending = orders not priced yet (absent when none)
funds.plan {plan: "start" | "stop", fund, amount?} -> {plan_id, fund, name, amount?, day?}
    a monthly fixed investment (定投) from the debit account on `day` (today's day of the month, at
    most 28); stop ends the fund's active plan; rejected: amount_needed (start without amount),
    no_plan (stop without one), unknown_fund

knowledge.product {product?} -> {product, name, kind, term, yield, risk, minimum, sale_start,
        sale_end, redeem?} or {items: [{name, risk, yield}], count}  no customer
    product: a code from nlu_data/lookups/products.yml, facts from adapters/knowledge/products/;
    None = the products on sale today; rejected: unknown_product
wealth.purchase {product, amount} -> {product, name, amount, value_date, maturity, balance_after}
        id = transaction id; from the debit account
    suitability first: the customer's risk assessment (C1-C5) must be at least the product's risk
    level (R1-R5), else rejected unsuitable {customer_level, product_risk}; also not_on_sale {name,
    sale_start, sale_end}, below_minimum {name, minimum}, unknown_product, insufficient_funds {balance}
wealth.redeem {product} -> {product, name, amount, balance_after}    id = transaction id
    the whole holding back to the debit account, for products that allow it
    rejected: not_redeemable {name, maturity}, no_holding, unknown_product

forex.quote {currency} -> {currency, name, buy, sell, unit}          no customer
    CNY for `unit` of the currency (1; 100 for JPY, KRW, RUB): buy = the bank buys it from the
    caller, sell = the bank sells it; rejected: unknown_currency
forex.trade {side: "buy" | "sell", currency, amount} -> {currency, amount, rate, unit, cny_amount,
        balance_after}                                               id = transaction id
    side is the caller's (buy = the caller gets the currency); amount in the foreign currency; the
    CNY side goes to or from the debit account (balance_after); rejected: unknown_currency,
    insufficient_funds {balance}

bills.pay {bill_type, amount, account?} -> {bill_type, biller, account, amount, balance_after}
    bill_type: mobile | water | electricity | gas | cable_tv | government (another is bad_request);
    account = the customer's number at the biller, None = the one registered for that bill type
    id = transaction id; rejected: no_bill_account {bill_type}, insufficient_funds {balance}

cards.statement {} -> {amount_due, min_due, due_date, statement_date, account}
    amount_due and min_due = what is still owed of the latest statement; rejected: no_card
cards.repay {amount?} -> {amount, remaining, balance_after}          id = transaction id
    amount None = all still owed; from the debit account
    rejected: nothing_due, exceeds_due {amount_due}, insufficient_funds {balance}

crm.complaint {content} -> {ticket}                                  id = ticket, e.g. TS202501060003
crm.suggestion {content} -> {ticket}                                 id = ticket, e.g. JY202501060001
crm.callback {phone, when?} -> {ticket, phone, when}                 id = ticket, e.g. HD202501060002
    phone: mobile or landline; when: ISO 8601 local time, None = as soon as possible
    crm.* take customer_id=None too: an unidentified caller can still complain

notify.sms {phone, text} -> {phone}                                  no customer; id = message id
    phone: an 11-digit mobile number; card numbers in the text are masked in the outbox

knowledge.answer {question} -> {title, answer, score}                no customer
    rejected: no_answer {score}
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from domain.errors import UserError


class BackendError(UserError):
    """A request the back end cannot take at all (an unknown action, a missing key, a bank it cannot
    open): a mistake in intents/ or the settings, not something a caller did."""


OK, REJECTED, FAILED, UNKNOWN = "ok", "rejected", "failed", "unknown"
STATUSES = (OK, REJECTED, FAILED, UNKNOWN)


@dataclass(frozen=True)
class Outcome:
    status: str  # one of STATUSES
    id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None  # machine code for rejected / failed / unknown

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "id": self.id, "data": self.data, "reason": self.reason}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Outcome:
        """The outcome `to_json` wrote; ValueError for anything else."""
        if value.get("status") not in STATUSES:
            raise ValueError(f"not an outcome: {value!r}")
        return cls(value["status"], value.get("id"), dict(value.get("data") or {}), value.get("reason"))


def ok(id: str | None = None, **data: Any) -> Outcome:
    return Outcome(OK, id, data)


def rejected(reason: str, **data: Any) -> Outcome:
    return Outcome(REJECTED, None, data, reason)


class Backend(Protocol):
    """Every back-end kind of one implementation (sandbox or http) behind one call."""

    def run(self, action: str, params: dict[str, Any], *, customer_id: str | None, key: str) -> Outcome:
        ...


def checked_action(action: str, key: object) -> ActionSpec:
    """The action's spec; BackendError for an unknown action or a missing idempotency key."""
    spec = action_spec(action)
    if not isinstance(key, str) or not key:
        raise BackendError(f"{action}: an idempotency key is required")
    return spec


def run_settled(backend: Backend, action: str, params: dict[str, Any], *, customer_id: str | None,
                key: str) -> Outcome:
    """`backend.run`, once more with the same key when the outcome is unknown: that settles it, and
    never runs the action twice."""
    outcome = backend.run(action, params, customer_id=customer_id, key=key)
    if outcome.status == UNKNOWN:
        outcome = backend.run(action, params, customer_id=customer_id, key=key)
    return outcome


@dataclass(frozen=True)
class ActionSpec:
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    customer: str = "required"  # "required" | "optional" (crm.*) | "none" (passed no customer_id)


ACTIONS: dict[str, ActionSpec] = {
    "banking.identify": ActionSpec(("phone",), customer="none"),
    "banking.verify_pin": ActionSpec(("pin",)),
    "banking.balance": ActionSpec(),
    "banking.history": ActionSpec(optional=("since", "until")),
    "banking.transfer": ActionSpec(("payee", "amount")),
    "banking.report_card_loss": ActionSpec(optional=("card",)),
    "banking.change_pin": ActionSpec(("old_pin", "new_pin")),
    "securities.quote": ActionSpec(("stock",), customer="none"),
    "securities.place_order": ActionSpec(("side", "stock", "quantity"), ("price",)),
    "securities.cancel_order": ActionSpec(optional=("order_id",)),
    "securities.orders": ActionSpec(),
    "securities.positions": ActionSpec(),
    "securities.bank_transfer": ActionSpec(("direction", "amount")),
    "securities.price_alert": ActionSpec(("stock", "price"), ("direction",)),
    "securities.trades": ActionSpec(),
    "securities.custody": ActionSpec(),
    "insurance.policies": ActionSpec(optional=("policy",)),
    "insurance.report_claim": ActionSpec(("policy", "date", "place", "description", "injured")),
    "insurance.claims": ActionSpec(),
    "insurance.pay_premium": ActionSpec(optional=("policy",)),
    "insurance.policy_loan": ActionSpec(optional=("policy",)),
    "insurance.change_phone": ActionSpec(("phone",)),
    "funds.nav": ActionSpec(("fund",), customer="none"),
    "funds.subscribe": ActionSpec(("fund", "amount")),
    "funds.redeem": ActionSpec(("fund", "shares")),
    "funds.positions": ActionSpec(),
    "funds.plan": ActionSpec(("plan", "fund"), ("amount",)),
    "wealth.purchase": ActionSpec(("product", "amount")),
    "wealth.redeem": ActionSpec(("product",)),
    "knowledge.product": ActionSpec(optional=("product",), customer="none"),
    "forex.quote": ActionSpec(("currency",), customer="none"),
    "forex.trade": ActionSpec(("side", "currency", "amount")),
    "bills.pay": ActionSpec(("bill_type", "amount"), ("account",)),
    "cards.statement": ActionSpec(),
    "cards.repay": ActionSpec(optional=("amount",)),
    "crm.complaint": ActionSpec(("content",), customer="optional"),
    "crm.suggestion": ActionSpec(("content",), customer="optional"),
    "crm.callback": ActionSpec(("phone",), ("when",), customer="optional"),
    "notify.sms": ActionSpec(("phone", "text"), customer="none"),
    "knowledge.answer": ActionSpec(("question",), customer="none"),
}


def action_spec(action: str) -> ActionSpec:
    spec = ACTIONS.get(action)
    if spec is None:
        raise BackendError(f"unknown back-end action {action!r} (adapters/base.py lists them)")
    return spec
