"""A progressive campaign over real SIP: `assistant campaign run` reserves the free agent, dials the
customer (a sipp UAS at the trunk that answers and plays a tone), and once answered puts the call
through to the agent's phone (baresip, answering by itself), so the customer talks to the person the
call was dialled for. Checked on the agent's phone (it heard the customer) and in the database.

Everything on 127.0.0.1: sipp at 26200 (its media at 26210), baresip at 26250 (control 26255, RTP
26260-26268), the assistant's SIP front-end at config.yml telephony.dial_from (any free port).
"""
from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from test_agent_voice import AGENT_HZ, Phone, loudest_hz, wav
from test_campaign_sip import assistant, rows
from test_sip import tone
from test_sip_outbound import NUMBER, customer_wav, sipp

pytestmark = pytest.mark.skipif(not (shutil.which("sipp") and shutil.which("baresip")),
                                reason="needs sipp (Debian sip-tester) and baresip (baresip-core)")

TRUNK_PORT = 26200
PHONE_PORT = 26250
PHONE = f"sip:agent1@127.0.0.1:{PHONE_PORT}"
CUSTOMER_HZ = 700.0  # what the customer says
NOW = "2026-03-03T10:00:00"  # a Tuesday, no holiday, within service_followup's 09:00-20:00


@pytest.mark.slow  # ~1 min: two CLI starts, one loading the models, and a call of 12 s
def test_a_progressive_campaign_puts_the_answered_customer_through_to_the_reserved_agent(tmp_path: Path) -> None:
    listing = tmp_path / "list.csv"
    listing.write_text(f"customer_id,phone\nC0001,{NUMBER}\n")
    customer_wav(tmp_path, tone(1.0, CUSTOMER_HZ))  # over and over, from the answer on
    trunk = f"127.0.0.1:{TRUNK_PORT}"
    assistant(tmp_path, "create", "followup", "--purpose", "service_followup", "--csv", str(listing),
              "--mode", "progressive", "--now", NOW, trunk=trunk)
    # The purpose's calls go to agents of its complaint skill (config.yml campaigns: service_followup).
    assistant(tmp_path, "agent", "A", "--skills", "complaints", "--phone", PHONE, group="queue", trunk=trunk)

    async def call() -> tuple[int, str]:
        customer = asyncio.create_task(sipp("uas_answer.xml", tmp_path, {"ring_ms": "300", "talk_ms": "12000"},
                                            port=TRUNK_PORT, timeout_s=260))
        await asyncio.to_thread(assistant, tmp_path, "run", "followup", "--until-idle", "--now", NOW, trunk=trunk,
                                timeout_s=240)
        return await customer

    with Phone(tmp_path / "phone", wav(tmp_path / "agent.wav", tone(30, AGENT_HZ)), PHONE, PHONE_PORT) as phone:
        code, err = asyncio.run(call())
        assert code == 0, err
        assert "Call established" in phone.text(), phone.text()
    heard = phone.heard()
    assert len(heard) >= 3 * 8000 and abs(loudest_hz(heard) - CUSTOMER_HZ) < 30  # the customer, not the assistant

    database = tmp_path / "calls.sqlite"
    assert rows(database, "SELECT result FROM campaign_contacts") == [("to_agent",)]
    assert rows(database, "SELECT caller, reason, status, agent FROM handoffs") == [(NUMBER, "campaign_call", "taken", "A")]
