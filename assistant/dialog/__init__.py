"""The dialog: one `Dialog` per call, driven by the function catalog (assistant/catalog.py).

    dialog.py        the state of one call and what each caller turn does to it
    task.py          a function in progress: its slots, checks and what comes next
    keypad.py        key presses: entries, the key menu
    wording.py       how slot values and outcome data are said
    turn.py          what one turn decided, as shown and stored
"""
