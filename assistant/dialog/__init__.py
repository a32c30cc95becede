"""The dialog: one `Dialog` per call, driven by the function catalog (assistant/catalog/).

    service.py       DialogService: what every call's dialog shares; opens one Dialog per call
    dialog.py        the coordinator: which part each caller turn goes to
    task.py          slot filling: a function in progress, its slots, checks and what comes next
    verification.py  the caller: identified by caller id, verified by a typed PIN
    handoff.py       a person takes over: the hand-off ticket, the caller's place and wait
    callback.py      a callback booked instead of waiting
    actions.py       back-end actions of one call; record.py: the call's transcript and turns
    keypad.py        key presses: entries, the key menu
    wording.py       how slot values and outcome data are said
    settings.py      config.yml `dialog:`
"""
