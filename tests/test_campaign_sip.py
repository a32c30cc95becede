"""A service follow-up campaign of 100 customers dialled by the real `assistant campaign run` through
one sipp UAS at the trunk (tests/data/sip/uas_campaign.xml), whose customers do what their numbers
say: most are busy, a few ring unanswered, eight answer and press keys in the survey (intents/
campaigns.yml service_survey). Then the campaign's report and records against what sipp did.

Everything on 127.0.0.1: sipp at 25600 (its media at 25610 and up), the assistant's SIP front-end at
config.yml telephony.dial_from (any free port).
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest
from test_campaign_cli import ROOT
from test_sip import SCENARIOS
from test_sip_outbound import HOST, customer_wav

from assistant.runtime.telephony import TRUNK_VARIABLE
from assistant.storage.calls import DATABASE_VARIABLE

TRUNK_PORT = 25600
NAME = "spring_followup"
NOW = "2026-03-03T10:00:00"  # a Tuesday, no holiday, within service_followup's 09:00-20:00
LINES = 3  # one worker holds 3 calls at once (assistant/transports/sip.py PJSUA_MAX_CALLS)
NUMBERS = [f"1390000{n:04d}" for n in range(100)]
# What each number's customer does in the scenario, as it logs it.
DID = {number: "rang" for number in NUMBERS[0:3]}
DID |= {number: "pressed 14" for number in NUMBERS[3:8]}
DID |= {NUMBERS[8]: "pressed 11", NUMBERS[9]: "pressed 9", NUMBERS[10]: "pressed 2"}
DID |= {number: "busy" for number in NUMBERS[11:]}
UNHAPPY, REFUSED = NUMBERS[8], NUMBERS[9]
# The contact's (result, final) each of those leads to (assistant/campaigns/runner.py).
RESULT = {"rang": ("no_answer", 0), "busy": ("no_answer", 0), "pressed 14": ("completed", 1),
          "pressed 11": ("completed", 1), "pressed 9": ("refused", 1), "pressed 2": ("wrong_person", 1)}
FIRST_KEY_MS = 10000  # after the answer: the opening and the right-party question are heard (~10 s)
NEXT_KEY_MS = 9000  # the satisfaction question


def assistant(tmp_path: Path, *args: str, timeout_s: int = 120, group: str = "campaign",
              trunk: str = f"{HOST}:{TRUNK_PORT}") -> subprocess.CompletedProcess[str]:
    """`assistant GROUP ARGS` (a campaign command by default) on the test's database, dialling through sipp."""
    env = {**os.environ, DATABASE_VARIABLE: str(tmp_path / "calls.sqlite"), TRUNK_VARIABLE: trunk}
    done = subprocess.run([str(ROOT / ".venv/bin/assistant"), group, *args], capture_output=True, text=True,
                          env=env, timeout=timeout_s, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done


def customers(folder: Path) -> subprocess.Popen[str]:
    """sipp as the trunk's customers: it ends once every number was dialled once (0: each call went as scripted)."""
    return subprocess.Popen(
        ["sipp", "-sf", str(SCENARIOS / "uas_campaign.xml"), "-m", str(len(NUMBERS)), "-i", HOST,
         "-p", str(TRUNK_PORT), "-mi", HOST, "-mp", str(TRUNK_PORT + 10), "-nostdin", "-timeout", "280s",
         "-timeout_error", "-trace_logs", "-log_file", str(folder / "sipp.log"), "-trace_err", "-error_file",
         str(folder / "sipp-errors.log"),
         "-key", "first_ms", str(FIRST_KEY_MS), "-key", "next_ms", str(NEXT_KEY_MS)],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def rows(database: Path, query: str, parameters: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(database)) as db:
        return db.execute(query, parameters).fetchall()


@pytest.mark.slow  # ~3 min: three CLI starts, two of them loading the models, and eight answered calls
def test_a_campaign_through_the_trunk(tmp_path: Path) -> None:
    listing = tmp_path / "list.csv"
    listing.write_text("customer_id,phone\n" + "".join(f"C{n:04d},{number}\n" for n, number in enumerate(NUMBERS)))
    customer_wav(tmp_path, bytes(2 * 8000))  # a second of silence, over and over
    assistant(tmp_path, "create", NAME, "--purpose", "service_followup", "--csv", str(listing), "--now", NOW)

    trunk = customers(tmp_path)
    try:
        ran = assistant(tmp_path, "run", NAME, "--until-idle", "--now", NOW, "--lines", str(LINES), timeout_s=240)
        _, err = trunk.communicate(timeout=30)
    finally:
        if trunk.poll() is None:
            trunk.kill()
            trunk.wait()
    log = (tmp_path / "sipp.log").read_text()
    assert trunk.returncode == 0, err + log
    assert ran.stdout == f"campaign {NAME}: {len(NUMBERS)} calls placed\n"  # nothing of PJSIP's own on stdout
    did = dict(re.findall(r"^(1390000\d{4}): (.+)$", log, re.MULTILINE))
    assert did == DID  # each number dialled once, and each customer did as its number says

    figures = json.loads(assistant(tmp_path, "report", NAME, "--json").stdout)
    did_count = Counter(DID.values())
    unreached = did_count["busy"] + did_count["rang"]
    assert (figures["contacts"], figures["attempted"], figures["pending"]) == (len(NUMBERS), len(NUMBERS), 0)
    assert figures["outcomes"] == {"answered": 0, "busy": did_count["busy"], "no_answer": did_count["rang"], "failed": 0,
                                   "completed": 6, "refused": 1, "wrong_person": 1}
    assert figures["results"] == {"completed": 6, "no_answer_provisional": unreached, "refused": 1, "wrong_person": 1}
    assert figures["satisfaction"] == {"1": 1, "4": 5} and figures["complaint_tickets"] == 1
    assert figures["opt_outs"] == 1

    database = tmp_path / "calls.sqlite"
    contacts = rows(database, "SELECT phone, result, final, ticket FROM campaign_contacts ORDER BY id")
    assert {phone: (result, final) for phone, result, final, _ in contacts} == {
        number: RESULT[did] for number, did in DID.items()}
    ((phone, ticket),) = [(phone, ticket) for phone, _, _, ticket in contacts if ticket is not None]
    assert phone == UNHAPPY
    assert rows(database, "SELECT caller, reason, skill, status FROM handoffs WHERE id = ?", (ticket,)) == [
        (UNHAPPY, "campaign_unhappy", "complaints", "waiting")]
    assert rows(database, "SELECT phone, purpose, reason FROM do_not_call") == [(REFUSED, "service_followup", "refused")]

    again = assistant(tmp_path, "run", NAME, "--until-idle", "--now", NOW, "--lines", str(LINES))
    assert f"campaign {NAME}: 0 calls placed" in again.stdout  # the busy and unanswered ones: retried later
    assert json.loads(assistant(tmp_path, "report", NAME, "--json").stdout)["outcomes"] == figures["outcomes"]
    assert "Traceback" not in ran.stderr + again.stderr  # no call failed on the assistant's side
