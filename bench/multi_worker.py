"""Does Keras 3's fit() train under MultiWorkerMirroredStrategy here? Two workers on localhost.

Follows TensorFlow's "Multi-worker training with Keras" tutorial: each worker gets a TF_CONFIG
naming both workers and its own index, builds and compiles the dense model under the strategy's
scope and calls fit() on the same dataset (the strategy shards it). Prints, per worker, "ok"
with the seconds and the MNIST test accuracy, or the error fit() raised. docs/scaling.md
reports what this printed.

    python bench/multi_worker.py
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def worker(index: int, addresses: list[str]) -> None:
    os.environ["TF_CONFIG"] = json.dumps(
        {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
    )
    import keras
    import numpy as np
    import tensorflow as tf

    from digitdraw import architectures, data

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    mnist = data.load_mnist()
    x, y = data.to_model_input(mnist.x_train[:3000]), mnist.y_train[:3000]
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(3000, seed=0).batch(256).repeat()
    with strategy.scope():
        model = architectures.build("dense", "sequential")
        model.compile(keras.optimizers.Adam(6e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    try:
        model.fit(ds, epochs=2, steps_per_epoch=12, verbose=0)
    except Exception as exc:  # what this bench is here to show
        text = " ".join(str(exc).split())  # on one line: the message holds a whole batch
        print(f"worker {index}: fit() failed: {type(exc).__name__}: {text[:60]}...{text[-100:]}")
        return
    probs = model.predict(data.to_model_input(mnist.x_test), verbose=0)
    accuracy = float(np.mean(probs.argmax(1) == mnist.y_test))
    print(f"worker {index}: ok, {time.perf_counter() - start:.1f} s, MNIST test accuracy {accuracy:.2%}")


def main() -> None:
    # No options: --help says what it tries, before TensorFlow starts two workers.
    raw = argparse.RawDescriptionHelpFormatter
    argparse.ArgumentParser(description=__doc__, formatter_class=raw).parse_args()
    import keras
    import tensorflow as tf

    print(f"Keras {keras.__version__}, TensorFlow {tf.__version__}, 2 workers on localhost")
    addresses = [f"localhost:{free_port()}" for _ in range(2)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", str(i), *addresses],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for i in range(2)
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        print(out.strip() or f"(a worker printed nothing; exit status {proc.returncode})")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), sys.argv[3:])
    else:
        main()
