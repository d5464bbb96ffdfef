"""Shared pytest fixtures: small real models built with tf-keras and converted by TFLite."""
import os
import sys
from pathlib import Path

# tf-keras (Keras 2) is the student framework; quiet TensorFlow's C++ logging in tests.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """A float and a full-int8 embedding classifier, and a float model with GELU (no TFLM kernel)."""
    import model_factory

    out = tmp_path_factory.mktemp("tiny_models")
    return model_factory.build_tiny_models(out)
