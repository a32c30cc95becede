"""A-share trading rules: sessions, daily price limits, lots and fees (prices and money in fen)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from adapters.params import fen_of
from domain.clock import in_beijing

SESSIONS = ((time(9, 30), time(11, 30)), (time(13, 0), time(15, 0)))
LOT = 100  # shares are bought in lots; a holding may be sold down to any size
COMMISSION_RATE = Decimal("0.00025")
MIN_COMMISSION = 500
STAMP_DUTY_RATE = Decimal("0.0005")  # sells only


def is_trading_day(day: date) -> bool:
    return day.weekday() < 5  # exchange holidays are left out of the sandbox


def is_open(moment: datetime) -> bool:
    moment = in_beijing(moment)
    now = moment.time()
    return is_trading_day(moment.date()) and any(start <= now < end for start, end in SESSIONS)


def trading_days(first: date, last: date) -> list[date]:
    days = (first + timedelta(days=offset) for offset in range((last - first).days + 1))
    return [day for day in days if is_trading_day(day)]


def last_trading_day(moment: datetime) -> date:
    """The day whose prices are current: today on a trading day, else the trading day before."""
    day = in_beijing(moment).date()
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return day


def close_time(day: date) -> datetime:
    return in_beijing(datetime.combine(day, SESSIONS[-1][1]))


def limit_percent(stock: str) -> int:
    """ChiNext (300, 301) and STAR (688) shares move 20 % a day, the others 10 %."""
    return 20 if stock.startswith(("300", "301", "688")) else 10


def price_band(stock: str, prev_close: int) -> tuple[int, int]:
    """The lowest and highest prices allowed today."""
    step = Decimal(limit_percent(stock)) / 100
    return fen_of(Decimal(prev_close) * (1 - step) / 100), fen_of(Decimal(prev_close) * (1 + step) / 100)


def fee(side: str, amount: int) -> int:
    """Commission (0.025 %, at least 5 yuan) plus stamp duty (0.05 %) on sells."""
    return commission(amount) + (stamp_duty(amount) if side == "sell" else 0)


def commission(amount: int) -> int:
    return max(MIN_COMMISSION, fen_of(Decimal(amount) * COMMISSION_RATE / 100))


def stamp_duty(amount: int) -> int:
    return fen_of(Decimal(amount) * STAMP_DUTY_RATE / 100)
