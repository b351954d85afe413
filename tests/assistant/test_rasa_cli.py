"""assistant.rasa_cli: Rasa's command line with tf.data autotuning off for Keras'
generator datasets (why: the module's docstring; figures: bench/results.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

tf = pytest.importorskip("tensorflow")


class Batches(tf.keras.utils.Sequence):
    """A few fixed batches, as Rasa's batch generator hands them to ``fit``."""

    def __init__(self) -> None:
        rng = np.random.default_rng(7)
        self.x = rng.normal(size=(6, 16, 8)).astype("float32")
        self.y = rng.integers(0, 3, size=(6, 16))

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.x[index], self.y[index]


def trained_weights() -> list[np.ndarray]:
    tf.keras.utils.set_random_seed(42)
    model = tf.keras.Sequential([tf.keras.layers.Dense(12, activation="relu"), tf.keras.layers.Dense(3)])
    model.compile(optimizer="adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(Batches(), epochs=3, verbose=0, shuffle=False)
    return model.get_weights()


def sequence_dataset() -> tf.data.Dataset:
    from keras.engine import data_adapter

    return data_adapter.KerasSequenceAdapter(Batches()).get_dataset()


def test_keras_sequence_datasets_train_without_autotune_and_learn_the_same() -> None:
    from assistant.rasa_cli import without_autotune

    before = trained_weights()
    assert sequence_dataset().options().autotune.enabled is not False  # TF's default: on
    without_autotune()
    without_autotune()  # idempotent: applied once
    assert sequence_dataset().options().autotune.enabled is False
    after = trained_weights()
    assert len(before) == len(after)
    for old, new in zip(before, after, strict=True):
        np.testing.assert_allclose(old, new, rtol=1e-6)


def test_the_command_is_rasas_command_line() -> None:
    result = subprocess.run([sys.executable, "-m", "assistant.rasa_cli", "--version"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    import rasa

    assert f"Rasa Version      :         {rasa.__version__}" in result.stdout
