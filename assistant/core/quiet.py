"""A quiet, offline start for every process of ours: imported first by each entry point.

A bank's network is closed, so nothing may try to reach the internet unless a download is asked for:
Rasa's telemetry (on by default, it posts to segment.io) is switched off before Rasa is imported.
The terminal shows only our own lines: no Python warnings from the libraries, no TensorFlow C++ log,
no SQLAlchemy 2.0 notice. The variables are set in the environment, so the processes we start (the
resident NLU process) inherit them; a value already set by the user wins.
"""
from __future__ import annotations

import os
import sys
import warnings

ENVIRONMENT = {
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
}


def quiet_start() -> None:
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    if not sys.warnoptions:  # python -W or PYTHONWARNINGS asks to see them
        warnings.simplefilter("ignore")
        os.environ.setdefault("PYTHONWARNINGS", "ignore")


quiet_start()
