"""Outbound campaigns: the assistant calls customers (service and complaint follow-up, collections,
marketing), archives every attempt and turns unhappy results into complaint tickets.

    rules.py     config.yml `campaigns:`: calling windows and holidays, attempt caps, retry delays,
                 refusal rules, per purpose
    store.py     the campaigns' tables: campaigns, contacts, attempts, the do-not-call list
    targets.py   who is called: a CSV file or named criteria over the assistant's and the bank's data
    runner.py    the dial decision (the rules checked at every dial) and what an attempt leaves
    results.py   what an answered call came to, from the turns the call store kept
    report.py    the figures of `assistant campaign report`
    channels.py  how a customer every call missed is told: SMS, e-mail (SMTP), a letter queued
    letters.py   the queued letters as one printable batch, `assistant campaign letters`
    agents.py    preview and progressive modes: the agent reserved before the dial, the desk's preview

Calls are placed through the Dialer of assistant/core/dialing.py (the SIP trunk); everything is state in
the assistant's database, so several runners (PostgreSQL) or a restart lose and repeat nothing.
"""
