"""Where training runs: the distribution strategy, the worker's role, the precision.

kerasdl uses TensorFlow's own strategies:

- ``auto``: ``TF_CONFIG`` in the environment -> ``MultiWorkerMirroredStrategy``;
  several GPUs -> ``MirroredStrategy`` over them; else the default strategy
  (one GPU, or the CPU).
- ``default``, ``one_device``, ``mirrored``, ``multi_worker``: that one.

``training.devices`` names the devices of ``one_device`` and ``mirrored``.
CPUs beyond the first (``/cpu:1``, ...) are logical devices that kerasdl
splits the CPU into, so that a machine without GPUs can run (and test) the
mirrored code path.

Mixed precision is a Keras dtype policy: ``mixed`` picks ``mixed_float16``
on GPUs and ``mixed_bfloat16`` on TPUs and on CPUs with bfloat16 arithmetic
(AVX512_BF16 or AMX).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import re
from pathlib import Path
from typing import Iterator, Optional, Sequence

import keras
import tensorflow as tf

from kerasdl.errors import RecipeError
from kerasdl.schema import PRECISIONS, STRATEGIES

CPU_FLAGS = Path("/proc/cpuinfo")
# The CPU flags that mean native bfloat16 arithmetic (oneDNN uses them).
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclasses.dataclass(frozen=True)
class Placement:
    """How this process trains.

    Attributes:
        strategy: The ``tf.distribute`` strategy; build and compile in its scope.
        name: The strategy ``auto`` resolved to.
        replicas: Model replicas in sync, all workers together.
        workers: Processes training together (1 unless multi-worker).
        task: This worker's ``(type, index)`` in ``TF_CONFIG``, or None.
        is_chief: Whether this process writes (run folder, checkpoints,
            export). Every other worker trains alongside and writes nothing
            that stays.
        precision: The Keras dtype policy ``precision`` resolved to.
    """

    strategy: tf.distribute.Strategy
    name: str
    replicas: int
    workers: int
    task: Optional[tuple[str, int]]
    is_chief: bool
    precision: str

    def global_batch_size(self, batch_size: int, scope: str) -> int:
        """The batch a step takes across all replicas: ``batch_size`` itself
        (scope ``global``) or ``batch_size`` per replica."""
        return batch_size * self.replicas if scope == "per_replica" else batch_size

    def input_shard(self) -> Optional[tuple[int, int]]:
        """``(workers, index)``: this worker's share of files to read in a
        multi-worker run (the chief first, as ``tf.distribute`` numbers
        input pipelines), or None in a single process."""
        if self.workers <= 1 or self.task is None:
            return None
        kind, index = self.task
        has_chief = "chief" in (cluster() or {}).get("cluster", {})
        return self.workers, 0 if kind == "chief" else index + (1 if has_chief else 0)

    def describe(self) -> str:
        where = f"{self.replicas} replica{'s' if self.replicas != 1 else ''}"
        if self.workers > 1:
            where += f" on {self.workers} workers (this one: {self.task[0]} {self.task[1]}"
            where += ", chief)" if self.is_chief else ")"
        if not tf.config.list_physical_devices("GPU"):
            where += ", CPU only (no GPU found)"
        return f"Strategy: {self.name}, {where}; precision {self.precision}."


def cluster() -> Optional[dict]:
    """``TF_CONFIG`` parsed, or None when it is absent.

    Raises:
        RecipeError: when it is not the JSON that TensorFlow expects.
    """
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        config = json.loads(text)
        spec, task = config["cluster"], config["task"]
        (task["type"], int(task["index"]))
        if not isinstance(spec, dict) or task["type"] not in spec:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise RecipeError(
            'TF_CONFIG must be JSON like {"cluster": {"worker": ["host1:port", "host2:port"]}, '
            '"task": {"type": "worker", "index": 0}} (the task\'s type must be in the cluster). '
            f"Received: TF_CONFIG={text[:200]!r}"
        ) from None
    return config


def _task(config: Optional[dict]) -> tuple[Optional[tuple[str, int]], bool, int]:
    """This task, whether it is the chief, and the number of workers."""
    if config is None:
        return None, True, 1
    spec, task = config["cluster"], config["task"]
    kind, index = task["type"], int(task["index"])
    workers = len(spec.get("chief", [])) + len(spec.get("worker", []))
    # TensorFlow's rule: the chief task, or worker 0 when there is none.
    chief = kind == "chief" or (kind == "worker" and index == 0 and "chief" not in spec)
    return (kind, index), chief, workers


def split_cpu(count: int) -> None:
    """Splits the CPU into ``count`` logical devices (before TensorFlow starts).

    Raises:
        RecipeError: when TensorFlow's runtime already runs with fewer.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    configured = tf.config.get_logical_device_configuration(cpu)
    if configured and len(configured) >= count:
        return
    try:
        # Listing logical devices would start the runtime: configure first.
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        if len(tf.config.list_logical_devices("CPU")) >= count:
            return
        raise RecipeError(
            f"training.devices: {count} CPU devices need the CPU split before TensorFlow starts, and it has "
            "already started in this process. Run the recipe in a fresh process (kerasdl run)."
        ) from None


def _device_index(device: str) -> tuple[str, int]:
    match = re.fullmatch(r"/?(?:device:)?(cpu|gpu|tpu):(\d+)", device.strip().lower())
    if not match:
        raise RecipeError(
            f"training.devices: {device!r} is not a device name. Use names like /gpu:0, /gpu:1 or /cpu:0."
        )
    return match.group(1), int(match.group(2))


def _check_devices(devices: Sequence[str]) -> list[str]:
    """Normalised device names; splits the CPU when more CPUs are named."""
    parsed = [_device_index(device) for device in devices]
    cpus = [index for kind, index in parsed if kind == "cpu"]
    if cpus:
        split_cpu(max(cpus) + 1)
    for kind, index in parsed:
        available = len(tf.config.list_logical_devices(kind.upper()))
        if index >= available:
            raise RecipeError(
                f"training.devices: /{kind}:{index} does not exist here ({available} {kind.upper()} "
                f"device{'s' if available != 1 else ''} visible: "
                f"{[d.name for d in tf.config.list_logical_devices(kind.upper())]})."
            )
    return [f"/{kind}:{index}" for kind, index in parsed]


@functools.lru_cache(maxsize=None)
def _multi_worker() -> tf.distribute.Strategy:
    # One per process: it configures the collective runtime for the cluster.
    from kerasdl.runtime import multiworker

    multiworker.repair()  # Keras 3's fit under this strategy needs it.
    return tf.distribute.MultiWorkerMirroredStrategy()


def create_strategy(name: str = "auto", devices: Optional[Sequence[str]] = None) -> tuple[str, tf.distribute.Strategy]:
    """The ``tf.distribute`` strategy a recipe's ``training.strategy`` names,
    and the name ``auto`` resolved to.

    Raises:
        RecipeError: for an unknown name, a device list that does not fit the
            strategy or the machine, or ``multi_worker`` without ``TF_CONFIG``.
    """
    if name not in STRATEGIES:
        raise RecipeError(f"training.strategy must be one of: {', '.join(STRATEGIES)}. Received: strategy={name!r}")
    config = cluster()
    if name == "auto":
        if config is not None:
            name = "multi_worker"
        elif devices:
            name = "mirrored" if len(devices) > 1 else "one_device"
        else:
            name = "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "default"
    if name == "multi_worker":
        if config is None:
            raise RecipeError(
                "training.strategy: multi_worker needs TF_CONFIG in the environment, naming the cluster and this "
                "task (see the README's 'Several machines')."
            )
        if devices:
            raise RecipeError("training.devices: not used by multi_worker (each worker uses its own GPUs or CPU).")
        return name, _multi_worker()
    if name == "default":
        if devices:
            raise RecipeError("training.devices: the default strategy takes no devices; use one_device or mirrored.")
        return name, tf.distribute.get_strategy()
    if name == "one_device":
        names = _check_devices(devices) if devices else None
        if names and len(names) != 1:
            raise RecipeError(f"training.devices: one_device takes one device. Received: {list(devices)}")
        gpus = tf.config.list_logical_devices("GPU")
        return name, tf.distribute.OneDeviceStrategy(names[0] if names else ("/gpu:0" if gpus else "/cpu:0"))
    return name, tf.distribute.MirroredStrategy(_check_devices(devices) if devices else None)


def cpu_supports_bfloat16() -> bool:
    """Whether the CPU does bfloat16 arithmetic natively (Linux's flags)."""
    try:
        flags = CPU_FLAGS.read_text()
    except OSError:
        return False
    return any(re.search(rf"\b{flag}\b", flags) for flag in BFLOAT16_FLAGS)


def resolve_precision(name: str, strategy: tf.distribute.Strategy) -> str:
    """The Keras dtype policy for a recipe's ``training.precision``.

    Raises:
        RecipeError: for ``mixed`` on a CPU without bfloat16 arithmetic
            (emulated, it is slower than float32).
    """
    if name not in PRECISIONS:
        raise RecipeError(f"training.precision must be one of: {', '.join(PRECISIONS)}. Received: {name!r}")
    if name != "mixed":
        return name
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "mixed_bfloat16"
    if tf.config.list_logical_devices("GPU"):
        return "mixed_float16"
    if cpu_supports_bfloat16():
        return "mixed_bfloat16"
    raise RecipeError(
        "training.precision: mixed found no GPU and a CPU without bfloat16 arithmetic (AVX512_BF16 or AMX), "
        "where mixed precision is slower than float32. Use float32, or name mixed_bfloat16 to run it anyway."
    )


def place(training: dict) -> Placement:
    """The placement a recipe's ``training`` section asks for. Call it before
    anything else touches TensorFlow: a multi-worker strategy and split CPUs
    must be set up first."""
    name, strategy = create_strategy(training["strategy"], training["devices"])
    task, chief, workers = _task(cluster() if name == "multi_worker" else None)
    return Placement(
        strategy=strategy,
        name=name,
        replicas=strategy.num_replicas_in_sync,
        workers=workers,
        task=task,
        is_chief=chief,
        precision=resolve_precision(training["precision"], strategy),
    )


@contextlib.contextmanager
def building(placement: Placement) -> Iterator[None]:
    """Builds models in the strategy's scope and with the precision's dtype
    policy; the global policy is restored afterwards (layers keep theirs)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(placement.precision)
    try:
        with placement.strategy.scope():
            yield
    finally:
        keras.config.set_dtype_policy(previous)
