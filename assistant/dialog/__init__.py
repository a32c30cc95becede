"""The dialog: one `Dialog` per call, driven by the function catalog (assistant/catalog/).

    service.py       DialogService: what every call's dialog shares; opens one Dialog per call
    dialog.py        the turn loop: which part each caller turn goes to
    agenda.py        the functions of a call: the one in progress and those left for a question
    task.py          slot filling: a function in progress, its slots, checks and what comes next
    confirmation.py  yes or no before a function's action runs
    askback.py       asking which of two functions the caller meant, instead of guessing
    nomatch.py       turns not understood: asked again, keys offered, then a person
    menu.py          the key menu; keypad.py: how key presses make one entry
    verification.py  the caller: identified by caller id, verified by a typed PIN
    escalation.py    a person takes over: the ticket and what the caller hears (handoff.py: the ticket)
    reasons.py       why a call goes to a person, as tickets say it
    callback.py      a callback booked instead of waiting
    actions.py       back-end actions of one call; record.py: the call's transcript and turns
    reply.py         what one turn says, gathered from the parts
    wording.py       how slot values and outcome data are said
    settings.py      config.yml `dialog:`
"""
