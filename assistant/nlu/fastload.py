"""Loading a trained Rasa NLU model in seconds instead of most of a minute.

Rasa 3.6 rebuilds a DIET model by compiling it and fitting one batch in graph mode, only so that the
variables exist before the saved weights are restored; tracing that training step costs ~40 s on two
cores. We fit the batch eagerly (the variables are the same; the weights are overwritten right after)
and keep graph mode for prediction, so parsing stays as fast as before.

A model loaded for prediction also gets its sparse layers' connection masks applied once, here, instead of
on every prediction (`fold_connection_masks`).
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


def fold_connection_masks(model: Any) -> None:
    """Zero the masked-out kernel weights of `model`'s RandomlyConnectedDense layers once, for good.

    Each call of such a layer multiplies its kernel by its 0/1 mask and assigns the product back, so that
    training cannot revive cut connections. In prediction the product is the same every time (x * 1 = x,
    x * 0 = 0), yet 13 kernels of up to 256 x 1024 were multiplied and written for every utterance, a
    fifth of DIET's time. Applying the mask once and marking the layers dense (density 1: no masking
    in `call`) leaves the very same kernels. Not for a model that is trained further.
    """
    from rasa.utils.tensorflow.layers import RandomlyConnectedDense

    layers = {id(sub): sub for layer in model._tf_layers.values() for sub in (layer, *layer.submodules)}
    for layer in layers.values():
        if isinstance(layer, RandomlyConnectedDense) and layer.density < 1.0:
            layer.kernel.assign(layer.kernel * layer.kernel_mask)
            layer.density = 1.0


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
        if not finetune_mode:
            fold_connection_masks(model)
            if predict_data_example:
                model.run_inference(predict_data_example)  # trace the prediction graph now, not on the first call
        return model

    models.RasaModel.load = classmethod(load)
