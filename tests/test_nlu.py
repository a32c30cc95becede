"""The Rasa NLU: training cache, tokenisation that keeps entities whole, the resident process."""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from assistant.config import Config
from assistant.nlu.train import model_hash, write_dictionary


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
def test_every_annotated_entity_is_whole_tokens(config: Config, tmp_path: Path) -> None:
    """Jieba alone merges 500块 or 给李四 into one token and Rasa drops such entities as misaligned."""
    from rasa.shared.nlu.training_data.loading import load_data

    from assistant.nlu.tokenizer import CallerTokenizer

    data = load_data(str(config.nlu_dir))
    tokenizer = CallerTokenizer.create(
        {**CallerTokenizer.get_default_config(), "dictionary_path": str(write_dictionary(config.nlu_dir, tmp_path))},
        None, None, None,  # type: ignore[arg-type]
    )
    misaligned, entities = [], 0
    for message in data.nlu_examples:
        tokens = tokenizer.tokenize(message, "text")
        starts, ends = {t.start for t in tokens}, {t.end for t in tokens}
        for entity in message.get("entities") or []:
            entities += 1
            if entity["start"] not in starts or entity["end"] not in ends:
                misaligned.append(f"{message.get('text')} [{entity['entity']}]")
    assert entities > 300
    assert misaligned == []


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
