"""Foreign exchange: quotes around a mid rate with the bank's spread, trades against the debit account."""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from adapters import params
from adapters.base import Outcome, ok
from adapters.params import Refused, fen_of, yuan
from adapters.sandbox import ledger
from adapters.sandbox.banking import debit_account, pay_from_debit
from adapters.sandbox.store import Store

_RATE = Decimal("0.0001")


class SandboxForex:
    def __init__(self, store: Store, name: Callable[[str], str]) -> None:
        self.store = store
        self.name = name  # ISO code -> Chinese name

    def _rates(self, currency: str) -> tuple[Decimal, Decimal, int]:
        """(bank buys at, bank sells at, unit): CNY for `unit` of the currency."""
        row = self.store.con.execute("SELECT * FROM fx_rates WHERE currency = ?", (str(currency),)).fetchone()
        if row is None:
            raise Refused("unknown_currency", currency=currency)
        mid, spread = Decimal(row["mid"]), Decimal(row["spread"])
        return (mid * (1 - spread)).quantize(_RATE), (mid * (1 + spread)).quantize(_RATE), row["unit"]

    def quote(self, currency: str) -> Outcome:
        buy, sell, unit = self._rates(currency)
        return ok(currency=currency, name=self.name(currency), buy=str(buy), sell=str(sell), unit=unit)

    def trade(self, customer_id: str, side: str, currency: str, amount: str) -> Outcome:
        """The caller buys or sells `amount` of the currency for CNY."""
        side = params.choice(side, "side", ("buy", "sell"))
        bank_buys, bank_sells, unit = self._rates(currency)
        foreign = params.cents(amount)
        rate = bank_sells if side == "buy" else bank_buys
        cny = fen_of(Decimal(foreign) / 100 * rate / unit)
        store = self.store
        holding = ledger.customer_account(store, customer_id, "foreign", currency)
        if side == "buy":
            debit = pay_from_debit(store, customer_id, cny)
            if holding is None:
                holding = ledger.open_account(
                    store, f"{debit.number}-{currency}", "foreign", f"{currency}现汇账户",
                    customer_id=customer_id, currency=currency,
                )
            direction = 1
        else:
            if holding is None or holding.balance < foreign:
                raise Refused("insufficient_funds", balance=yuan(holding.balance if holding else 0))
            debit = debit_account(store, customer_id)
            direction = -1
        position = ledger.bank_account(store, ledger.fx_position(currency), currency)
        cny_position = ledger.bank_account(store, ledger.fx_position("CNY"))
        name = self.name(currency)
        transaction_id = ledger.record(
            store,
            "forex",
            f"{'购汇' if side == 'buy' else '结汇'}{yuan(foreign)}{name}",
            [
                (holding, direction * foreign), (position, -direction * foreign),
                (debit, -direction * cny), (cny_position, direction * cny),
            ],
            customer_id=customer_id,
        )
        return ok(
            transaction_id,
            currency=currency,
            amount=yuan(foreign),
            rate=str(rate),
            unit=unit,
            cny_amount=yuan(cny),
            balance_after=yuan(ledger.balance(store, debit)),
        )
