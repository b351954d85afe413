"""Rasa's command line for training and NLU tests: ``python -m assistant.rasa_cli train ...``.

The same command as ``rasa``, with tf.data's autotuning turned off for the datasets
Keras builds from Rasa's batch generator (DIET's training batches).

Why: Keras makes a new tf.data iterator for every epoch. With autotuning on (TF 2.12's
default) each iterator has a background thread that tunes buffer sizes and sleeps
between rounds, its sleep doubling up to a minute; destroying the iterator waits until
that sleep ends (gdb on a stalled ``rasa train``: the main thread in
``RootDataset::Iterator::~Iterator`` -> ``UnboundedThreadPool::LogicalThreadWrapper``,
the other in ``model::Model::OptimizeLoop``). That cost up to ~1 s between epochs and
0-48 s after the last one, at random: a third of some trainings (bench/results.md).
The batches come from a Python generator with a fixed prefetch of one, so there is
nothing to tune; the model is the same (the tuner only sizes buffers): the held-out
predictions of our model trained both ways were identical to the last digit, and
tests/assistant/test_rasa_cli.py checks the weights of a small training.
"""

from __future__ import annotations

import sys
from typing import Any


def without_autotune() -> None:
    """Keras' generator datasets (``fit`` on a Sequence) carry options with autotuning off."""
    import tensorflow as tf
    from keras.engine import data_adapter

    adapter = data_adapter.GeneratorDataAdapter
    if getattr(adapter.get_dataset, "_coa_without_autotune", False):
        return
    original = adapter.get_dataset

    def get_dataset(self: Any) -> Any:
        options = tf.data.Options()
        options.autotune.enabled = False
        return original(self).with_options(options)

    get_dataset._coa_without_autotune = True  # type: ignore[attr-defined]
    adapter.get_dataset = get_dataset


def main() -> None:
    without_autotune()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
