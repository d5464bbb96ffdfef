"""Builds small real .tflite models for tests (tf-keras, TFLite converter)."""
from pathlib import Path

import numpy as np


def _convert(keras_model, int8_calibration=None) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    if int8_calibration is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: iter(int8_calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def build_tiny_models(out: Path) -> dict:
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    ids = keras.Input((16,), batch_size=1, dtype="int32", name="ids")
    x = keras.layers.Embedding(100, 8)(ids)
    x = keras.layers.GlobalAveragePooling1D()(x)
    x = keras.layers.Dense(8, activation="relu")(x)
    logits = keras.layers.Dense(3)(x)
    classifier = keras.Model(ids, logits)

    rng = np.random.default_rng(0)
    calibration = [[rng.integers(0, 100, (1, 16)).astype(np.int32)] for _ in range(16)]

    features = keras.Input((4,), batch_size=1, name="features")
    gelu = keras.Model(features, keras.layers.Activation("gelu")(features))

    paths = {
        "float": out / "classifier_f32.tflite",
        "int8": out / "classifier_int8.tflite",
        "gelu": out / "gelu_f32.tflite",
    }
    paths["float"].write_bytes(_convert(classifier))
    paths["int8"].write_bytes(_convert(classifier, calibration))
    paths["gelu"].write_bytes(_convert(gelu))
    return paths
