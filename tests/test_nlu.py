"""The Rasa NLU: training cache, the resident process and the direct parse path.

That every annotated entity is whole tokens is checked by `assistant nlu validate` (test_nlu_validate.py).
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from assistant.nlu.eval.tsvfile import read_tsv
from assistant.nlu.train import model_hash, train
from domain.config import Config

HOLDOUT = Path(__file__).parent / "data" / "nlu_holdout.tsv"
# Besides the held-out requests: empty, punctuation, a regex intent, digits, Latin, an emoji, a run-on request.
ODD_TEXTS = ["", "？", "/greet", '/stock_buy{"stock": "茅台"}', "500", "hello world", "😀",
             "我要查余额然后转五千块给张三再买两百股茅台"]


@pytest.fixture(scope="module")
def rasa_parser(config: Config) -> Any:
    """The trained model, loaded in this process (~30 s)."""
    from assistant.nlu.resident import RasaParser

    return RasaParser(train(config))


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


@pytest.mark.slow
def test_commands_starting_at_once_start_one_nlu_process(assistant: Any, tmp_path: Path) -> None:
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    from assistant.nlu.resident import ResidentNlu

    model = tmp_path / "nlu" / assistant.understanding.parser.model.name  # a model no process serves yet
    model.parent.mkdir()
    shutil.copy(assistant.understanding.parser.model, model)
    with ThreadPoolExecutor(3) as pool:
        clients = list(pool.map(lambda _: ResidentNlu(model), range(3)))
    servers = subprocess.run(["pgrep", "-f", f"assistant.nlu.serve {model}"], capture_output=True, text=True)
    try:
        assert all(c.parse("我想买入股票")["intent"]["name"] == "stock_buy" for c in clients)
        assert len(servers.stdout.split()) == 1
    finally:
        for client in clients:
            client.close()
        subprocess.run(["pkill", "-f", f"assistant.nlu.serve {model}"])


@pytest.mark.slow
def test_the_direct_path_parses_exactly_as_rasa_does(rasa_parser: Any) -> None:
    assert rasa_parser.direct is not None  # the graph has the shape assistant/nlu/direct.py knows
    for text in [row["text"] for _, row in read_tsv(HOLDOUT, ("text",))] + ODD_TEXTS:
        assert rasa_parser.parse(text) == rasa_parser.parse_with_rasa(text), text


@pytest.mark.slow
def test_a_graph_it_does_not_know_is_left_to_rasa(rasa_parser: Any, monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    from assistant.nlu.direct import DirectParser

    monkeypatch.setattr(rasa_parser.agent.processor, "graph_runner", object())
    assert DirectParser.create(rasa_parser.agent, ["你好"], rasa_parser.parse_with_rasa) is None
    assert "unknown graph runner" in caplog.text


@pytest.mark.slow
def test_a_direct_parse_unlike_rasas_is_left_to_rasa(rasa_parser: Any, caplog: pytest.LogCaptureFixture) -> None:
    from assistant.nlu.direct import DirectParser

    def elsewhere(text: str) -> dict[str, Any]:
        return {**rasa_parser.parse_with_rasa(text), "intent": {"name": "greet", "confidence": 1.0}}

    assert DirectParser.create(rasa_parser.agent, ["你好"], elsewhere) is None
    assert "differs" in caplog.text


@pytest.mark.slow
def test_folded_connection_masks_give_the_same_output() -> None:
    import tensorflow as tf
    from rasa.utils.tensorflow.layers import RandomlyConnectedDense

    from assistant.nlu.fastload import fold_connection_masks

    layer = RandomlyConnectedDense(units=32, density=0.2)
    inputs = tf.random.stateless_normal((3, 64), seed=(1, 2))
    layer(inputs)  # builds kernel and mask
    loaded = tf.random.stateless_normal(layer.kernel.shape, seed=(3, 4))  # weights as restored: not masked
    layer.kernel.assign(loaded)
    masked_each_call = layer(inputs).numpy()
    layer.kernel.assign(loaded)
    fold_connection_masks(SimpleNamespace(_tf_layers={"layer": layer}))
    assert layer.density == 1.0  # no masking per call any more
    assert np.array_equal(layer(inputs).numpy(), masked_each_call)
