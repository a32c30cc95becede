"""The Rasa NLU: training cache and the resident process.

That every annotated entity is whole tokens is checked by `assistant nlu validate` (test_nlu_validate.py).
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from assistant.config import Config
from assistant.nlu.train import model_hash


def _copy(config: Config, tmp_path: Path) -> Config:
    shutil.copytree(config.nlu_dir, tmp_path / "nlu_data")
    return Config(config.raw, tmp_path)


def test_model_hash_follows_data_and_pipeline(config: Config, tmp_path: Path) -> None:
    copy = _copy(config, tmp_path)
    assert model_hash(copy) == model_hash(config)  # same data, same pipeline: the trained model is reused
    banking = copy.nlu_dir / "banking.yml"
    banking.write_text(banking.read_text(encoding="utf-8") + "\n    - 帮我看看卡里还剩多少\n", encoding="utf-8")
    changed_data = model_hash(copy)
    assert changed_data != model_hash(config)
    pipeline = [dict(step) for step in config.section("nlu")["pipeline"]]
    pipeline[-2]["epochs"] = 1
    assert model_hash(Config({**config.raw, "nlu": {"pipeline": pipeline}}, tmp_path)) != changed_data


@pytest.mark.slow
def test_commands_share_one_resident_nlu_process(assistant: Any) -> None:
    from assistant.nlu.resident import ResidentNlu, socket_for

    model = assistant.understanding.parser.model
    assert socket_for(model).exists()
    started = time.monotonic()
    client = ResidentNlu(model)  # a second command: connects, does not load the model again
    try:
        parsed = client.parse("我想买入股票")
        assert time.monotonic() - started < 5
        assert parsed["intent"]["name"] == "stock_buy"
        assert parsed == assistant.understanding.parser.parse("我想买入股票")
    finally:
        client.close()
