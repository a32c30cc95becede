"""The replayable price feed: a seeded random walk of 5-minute ticks per stock and trading day.

A day's ticks are written the first time that day of that stock is needed, starting from the last
close the feed knows (the instrument's reference price before that), and kept inside the day's price
limits. The same stock on the same day with the same previous close always gives the same ticks.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from adapters.sandbox import market
from adapters.sandbox.store import Store, stamp
from domain.clock import in_beijing

FEED_CURSOR = "feed_replayed_until"  # meta: the time up to which the feed has been played
TICK = timedelta(minutes=5)
VOLATILITY = 0.004  # standard deviation of one tick's log return


@dataclass(frozen=True)
class Price:
    price: int
    prev_close: int
    at: str  # time of the tick; before the day's first tick, the previous close's


def tick_times(day: date) -> list[datetime]:
    times = []
    for start, end in market.SESSIONS:
        moment, last = (in_beijing(datetime.combine(day, clock)) for clock in (start, end))
        while moment <= last:
            times.append(moment)
            moment += TICK
    return times


class PriceFeed:
    def __init__(self, store: Store) -> None:
        self.store = store

    def name(self, stock: str) -> str | None:
        row = self.store.con.execute("SELECT name FROM instruments WHERE code = ?", (stock,)).fetchone()
        return row[0] if row else None

    def day(self, stock: str, day: date) -> tuple[int, int]:
        """(previous close, close) of a trading day, its ticks written if they were not yet."""
        con = self.store.con
        row = con.execute(
            "SELECT prev_close, close FROM feed_days WHERE stock = ? AND day = ?", (stock, day.isoformat())
        ).fetchone()
        if row:
            return row[0], row[1]
        before = con.execute(
            "SELECT close FROM feed_days WHERE stock = ? AND day < ? ORDER BY day DESC LIMIT 1",
            (stock, day.isoformat()),
        ).fetchone()
        (prev_close,) = before or con.execute("SELECT reference FROM instruments WHERE code = ?", (stock,)).fetchone()
        ticks = self._walk(stock, day, prev_close)
        con.executemany("INSERT INTO ticks VALUES (?, ?, ?)", [(stock, stamp(at), price) for at, price in ticks])
        con.execute("INSERT INTO feed_days VALUES (?, ?, ?, ?)", (stock, day.isoformat(), prev_close, ticks[-1][1]))
        return prev_close, ticks[-1][1]

    @staticmethod
    def _walk(stock: str, day: date, prev_close: int) -> list[tuple[datetime, int]]:
        rng = random.Random(f"{stock}:{day.isoformat()}:{prev_close}")
        low, high = market.price_band(stock, prev_close)
        price, ticks = float(prev_close), []
        for at in tick_times(day):
            price = min(max(price * math.exp(rng.gauss(0, VOLATILITY)), low), high)
            ticks.append((at, round(price)))
        return ticks

    def price_at(self, stock: str, moment: datetime) -> Price:
        day = market.last_trading_day(moment)
        prev_close, close = self.day(stock, day)
        row = self.store.con.execute(
            "SELECT at, price FROM ticks WHERE stock = ? AND at >= ? AND at <= ? ORDER BY at DESC LIMIT 1",
            (stock, day.isoformat(), stamp(moment)),
        ).fetchone()
        if row:
            return Price(row["price"], prev_close, row["at"])
        previous_day = market.last_trading_day(market.close_time(day - timedelta(days=1)))
        return Price(prev_close, prev_close, stamp(market.close_time(previous_day)))

    def ticks(self, stocks: list[str], after: datetime, until: datetime) -> list[tuple[str, str, int]]:
        """(at, stock, price) of the given stocks' ticks in (after, until], in time order."""
        days = market.trading_days(in_beijing(after).date(), in_beijing(until).date())
        for stock in stocks:
            for day in days:
                self.day(stock, day)
        marks = ",".join("?" * len(stocks))
        return [
            (row["at"], row["stock"], row["price"])
            for row in self.store.con.execute(
                f"SELECT at, stock, price FROM ticks WHERE stock IN ({marks}) AND at > ? AND at <= ?"
                " ORDER BY at, stock",
                (*stocks, stamp(after), stamp(until)),
            )
        ]
