"""Parsing one utterance with a loaded Rasa NLU model, without Rasa's graph runner.

Written for Rasa 3.6 (3.6.21) on TensorFlow 2.12. For a single utterance `Agent.parse_message` spends
nearly as long around the model as in it: an event loop turn, an empty tracker, a dask schedule of the
graph and, inside DIETClassifier, model data built for batches of any size (scipy stacking, fake
features, a data generator) before the traced `tf.function` checks its inputs again. Here the graph's
components run one after another, each with its own method, and DIET's input tensors are put together
straight from the message's sparse features and fed to the function Rasa traced.

That needs Rasa internals (the runner's loaded nodes, DIET's input layout), so `DirectParser.create`
checks that the graph has the shape this was written for and that some probe parses come out exactly
as Rasa's own do; otherwise it logs why and returns None, and the caller keeps Rasa's path.
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import tensorflow as tf
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.engine.constants import PLACEHOLDER_MESSAGE
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.shared.constants import DIAGNOSTIC_DATA
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.utils.tensorflow.constants import FEATURIZERS, MASK, SENTENCE, SEQUENCE, SEQUENCE_LENGTH

logger = logging.getLogger(__name__)

# DIET's prediction input when it has sparse text features only: sub-key -> (is_sparse,
# number_of_dimensions), in the order of the input tensors (Rasa sorts the keys).
DIET_INPUT = {MASK: (False, 3), SENTENCE: (True, 3), SEQUENCE: (True, 3), SEQUENCE_LENGTH: (False, 1)}


class Unsupported(Exception):
    """The model's graph has a shape this module does not know."""


@dataclass(frozen=True)
class Node:
    """One node of the graph: `component.<method>(<argument>=messages)`."""

    component: Any
    method: str
    argument: str

    def run(self, messages: list[Any]) -> list[Any]:
        return getattr(self.component, self.method)(**{self.argument: messages})


class DirectParser:
    """Parses as `Agent.parse_message` does, calling the graph's components itself."""

    def __init__(self, processor: MessageProcessor) -> None:
        self.processor = processor
        self.nodes = [_with_fast_diet(node) for node in graph_nodes(processor)]
        # Rasa checks parses against the domain, which an NLU-only model has none of (and builds an
        # empty Domain per parse to find that out)
        self.check_domain = bool(processor.domain and not processor.domain.is_empty())

    @classmethod
    def create(cls, agent: Agent, probes: Sequence[str], rasa_parse: Callable[[str], dict[str, Any]]
               ) -> DirectParser | None:
        """The direct parser, or None (logged) when it does not fit the model or disagrees with Rasa."""
        try:
            parser = cls(agent.processor)
        except Unsupported as reason:
            logger.warning("NLU parses go through Rasa's graph runner: %s", reason)
            return None
        for text in probes:
            try:
                same = parser.parse(text) == rasa_parse(text)
            except Exception:  # a bug here must not take the NLU down: Rasa's path still works
                logger.warning("NLU parses go through Rasa's graph runner: the direct parse of %r failed", text,
                               exc_info=True)
                return None
            if not same:
                logger.warning("NLU parses go through Rasa's graph runner: the direct parse of %r differs", text)
                return None
        return parser

    def parse(self, text: str) -> dict[str, Any]:
        """What `Agent.parse_message(text)` returns."""
        messages: list[Any] = [UserMessage(text)]
        for node in self.nodes:
            messages = node.run(messages)
        parse_data = {TEXT: "", INTENT: {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, ENTITIES: []}
        parse_data.update(messages[0].as_dict(only_output_properties=True))
        self.processor._update_full_retrieval_intent(parse_data)
        if self.check_domain:
            self.processor._check_for_unseen_features(parse_data)
        return parse_data


def graph_nodes(processor: MessageProcessor) -> list[Node]:
    """The nodes that make the NLU target, first to last, each taking the messages of the one before."""
    runner = processor.graph_runner
    if not isinstance(runner, DaskGraphRunner):
        raise Unsupported(f"unknown graph runner {type(runner).__name__}")
    schema = processor.model_metadata.predict_schema
    nodes: list[Node] = []
    name = processor.model_metadata.nlu_target
    while name != PLACEHOLDER_MESSAGE:
        if name not in schema.nodes:
            raise Unsupported(f"{name} is neither a node nor the message")
        schema_node, graph_node = schema.nodes[name], runner._instantiated_nodes[name]
        if len(schema_node.needs) != 1 or not schema_node.eager or graph_node._hooks:
            raise Unsupported(f"node {name} is not a loaded component with one input")
        [(argument, name)] = schema_node.needs.items()
        nodes.append(Node(graph_node._component, schema_node.fn, argument))
    return nodes[::-1]


def _with_fast_diet(node: Node) -> Node:
    """`node`, or when it is DIET's `process`, the same on a copy of DIET that predicts with `DietPredict`."""
    if type(node.component) is not DIETClassifier or node.method != "process":
        return node
    fast = copy.copy(node.component)  # shares the model; Rasa's own runner keeps the original
    fast._predict = DietPredict(node.component)
    return replace(node, component=fast)


class DietPredict:
    """`DIETClassifier._predict` for one message: its sparse text features straight into the traced model.

    Rasa makes the same tensors through `RasaModelData` and `RasaDataGenerator.prepare_batch`: a mask of
    ones; the sentence and the sequence features as (indices, values, shape), each featurizer's columns
    after the previous one's (`scipy.sparse.hstack`); the number of tokens. A message without both
    kinds of features goes Rasa's way.
    """

    def __init__(self, diet: DIETClassifier) -> None:
        model = diet.model
        if model is None or model._tf_predict_step is None:
            raise Unsupported("DIET has no traced prediction function")
        signature = model.predict_data_signature
        layout = [(key, [(s.is_sparse, s.number_of_dimensions) for s in features])
                  for key, features in signature.get(TEXT, {}).items()]
        if list(signature) != [TEXT] or layout != [(key, [kind]) for key, kind in DIET_INPUT.items()]:
            raise Unsupported(f"DIET's input is not sparse text features alone: {signature}")
        if diet._execution_context.should_add_diagnostic_data:
            raise Unsupported("DIET is asked for diagnostic data")
        self.rasa_predict = diet._predict
        self.featurizers = diet.component_config[FEATURIZERS]
        # Called flat: matching the arguments to the function's signature took 0.7 ms a call here.
        self.function = model._tf_predict_step.get_concrete_function()
        if not hasattr(self.function, "_call_flat"):
            raise Unsupported("TensorFlow's concrete functions have no _call_flat")

    def __call__(self, message: Message) -> dict[str, Any] | None:
        sentence = self._sparse(message, SENTENCE)
        sequence = self._sparse(message, SEQUENCE)
        if sentence is None or sequence is None:
            return self.rasa_predict(message)
        tokens = sequence[2][1]
        inputs = [np.ones((1, 1, 1), np.float32), *sentence, *sequence, np.array([tokens], np.float32)]
        outputs = self.function._call_flat([tf.constant(x) for x in inputs], self.function.captured_inputs)
        return {key: value.numpy() for key, value in outputs.items() if key != DIAGNOSTIC_DATA}

    def _sparse(self, message: Message, kind: str) -> list[np.ndarray] | None:
        """(indices, values, shape) of the message's `kind` text features, stacked as Rasa does."""
        matrices = [f.features.tocoo() for f in message.features
                    if f.attribute == TEXT and f.type == kind and f.is_sparse()
                    and (f.origin in self.featurizers or not self.featurizers)]
        if not matrices:
            return None
        offsets = np.cumsum([0] + [m.shape[1] for m in matrices])
        indices = np.zeros((sum(m.nnz for m in matrices), 3), np.int64)
        indices[:, 1] = np.concatenate([m.row for m in matrices])
        indices[:, 2] = np.concatenate([m.col + offset for m, offset in zip(matrices, offsets)])
        values = np.concatenate([m.data for m in matrices]).astype(np.float32)
        return [indices, values, np.array([1, matrices[0].shape[0], offsets[-1]], np.int64)]
