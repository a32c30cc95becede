"""Loading a trained Rasa NLU model in seconds instead of most of a minute.

Rasa 3.6 rebuilds a DIET model by compiling it and fitting one batch in graph mode, only so that the
variables exist before the saved weights are restored; tracing that training step costs ~40 s on two
cores. We fit the batch eagerly (the variables are the same; the weights are overwritten right after)
and keep graph mode for prediction, so parsing stays as fast as before.
"""
from __future__ import annotations

import logging
import os
import warnings
from typing import Any


def quiet_rasa() -> None:
    """Keep TensorFlow's and Rasa's chatter off the terminal; warnings still go to the log."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    warnings.filterwarnings("ignore")
    for name in ("rasa", "tensorflow", "absl", "jieba", "matplotlib", "numexpr"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))


def install() -> None:
    import tensorflow as tf
    from rasa.utils.tensorflow import models
    from rasa.utils.tensorflow.data_generator import RasaBatchDataGenerator

    def load(
        cls: type,
        model_file_name: str,
        model_data_example: Any,
        predict_data_example: Any = None,
        finetune_mode: bool = False,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        model = cls(*args, **kwargs)
        learning_rate = kwargs.get("config", {}).get("learning_rate", 0.001)
        model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate), run_eagerly=True)
        model.fit(RasaBatchDataGenerator(model_data_example, batch_size=1), verbose=False)
        model.run_eagerly = bool(kwargs.get("config", {}).get("run_eagerly"))
        model.load_weights(model_file_name)
        if not finetune_mode and predict_data_example:
            model.run_inference(predict_data_example)  # trace the prediction graph now, not on the first call
        return model

    models.RasaModel.load = classmethod(load)
