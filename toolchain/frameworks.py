"""The machine-learning frameworks, imported in one place with their environment set first.

TensorFlow's student models use tf-keras (Keras 2): Keras 3 exports ops TFLite Micro rejects.
Logging and progress bars of the frameworks are quieted (the stages print their own progress).
"""
from __future__ import annotations

import os

ENVIRONMENT = {
    "TF_USE_LEGACY_KERAS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    # One TensorFlow thread: a float reduction's order depends on how many threads split it, so the
    # student's weights would depend on the machine's core count. Students are small; `search`
    # trains several at once instead.
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}


def configure() -> None:
    """Sets the frameworks' environment (values the user set themselves are kept)."""
    for key, value in ENVIRONMENT.items():
        os.environ.setdefault(key, value)


def tensorflow():
    configure()
    import tensorflow

    return tensorflow


def keras():
    configure()
    import tf_keras

    return tf_keras


def torch():
    configure()
    import torch

    return torch
