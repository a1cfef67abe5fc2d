"""Data streamed from files: image folders listed, split and limited before
anything is decoded, decoded in the graph whatever their size and format,
cached and shuffled in bounded memory, sharded by file across workers, and
bad files named (or skipped and counted)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from conftest import ROOT, run_cli_here

from kerasdl.data import images, pipeline
from kerasdl.errors import DataError

CLASSES = ("ants", "bees", "cats")


def write_folder(root, per_class=12, size=(10, 12), mode="L", suffix=".png"):
    """Class folders of flat images whose grey level names the file: the
    ``i``-th image overall has level ``3 * i`` (at most 85 images)."""
    from PIL import Image

    index = 0
    for name in CLASSES:
        (root / name).mkdir(parents=True)
        for _ in range(per_class):
            level = 3 * index
            Image.new(mode, size[::-1],
                      color=level if mode == "L" else (level,) * 3).save(root / name / f"{index:03d}{suffix}")
            index += 1
    return index


def add_mac_litter(root) -> int:
    """What a folder copied from a Mac (or unzipped from a Mac zip) and
    opened on Windows holds beside the photos: AppleDouble ``._`` files
    (not images: a 4-byte magic and metadata), ``.DS_Store``,
    ``__MACOSX/``, ``Thumbs.db``, ``desktop.ini``. Returns how many."""
    apple_double = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(64)
    litter = [root / ".DS_Store", root / "__MACOSX" / CLASSES[0] / "._000.png", root / "Thumbs.db"]
    for name in CLASSES:
        litter += [root / name / "._000.png", root / name / ".DS_Store", root / name / "desktop.ini",
                   root / name / "Thumbs.db"]
    for path in litter:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(apple_double)
    return 3 + 4 * len(CLASSES)  # At the top: .DS_Store, Thumbs.db and __MACOSX/ (one folder).


def levels(batches) -> list[int]:
    """The files an epoch of ``(images, labels)`` batches read, by grey level."""
    return [int(round(float(image.mean()) / 3)) for batch, _ in batches for image in batch.numpy()]


def feed(**changes) -> pipeline.Feed:
    return pipeline.Feed(**{"batch_size": 8, "seed": 7, "cache": "none", **changes})


def test_a_folder_is_listed_without_decoding_and_its_non_images_are_named(tmp_path):
    write_folder(tmp_path, per_class=5)
    (tmp_path / "bees" / "broken.jpg").write_bytes(b"not an image")  # Listed, never decoded here.
    (tmp_path / "cats" / "notes.txt").write_text("not an image either")
    data = images.load_image_folder(str(tmp_path), image_size=[8, 8], test_fraction=0.25)
    assert data.class_names == list(CLASSES) and data.input_shape == (8, 8, 1)
    assert len(data.train_items) + len(data.test_items) == 16
    assert data.notes == [f"Left out 1 files that are not images (.png, .jpg, .jpeg, .bmp, .gif, .webp), "
                          f"e.g. {tmp_path / 'cats' / 'notes.txt'}."]
    with pytest.raises(DataError, match=r"Image folder not found: .*/nowhere"):
        images.load_image_folder(str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="no class sub-folders"):
        images.load_image_folder(str(tmp_path / "ants"))
    (tmp_path / "dogs").mkdir()
    with pytest.raises(DataError, match=r"dogs has no images .*every class folder needs some"):
        images.load_image_folder(str(tmp_path))


def test_mixed_sizes_formats_and_colours_decode_to_one_shape(tmp_path):
    from PIL import Image

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shapes = {"grey.png": ("L", (10, 12)), "rgb.jpg": ("RGB", (40, 30)), "anim.gif": ("L", (7, 9)),
              "bitmap.bmp": ("RGB", (16, 16)), "photo.webp": ("RGB", (33, 21)), "alpha.png": ("RGBA", (5, 50))}
    for index, (name, (mode, size)) in enumerate(shapes.items()):
        Image.new(mode, size, color=120 if mode == "L" else (120, 120, 120) + ((255,) if mode == "RGBA" else ())
                  ).save(tmp_path / ("a" if index % 2 else "b") / name)
    for color_mode, channels in (("rgb", 3), ("grayscale", 1)):
        data = images.load_image_folder(str(tmp_path), image_size=[8, 6], color_mode=color_mode, test_fraction=0.3)
        everything = data.read(np.concatenate([data.train_items, data.test_items]))
        assert everything.shape == (6, 8, 6, channels) and everything.dtype == np.uint8
        # JPEG and WebP are lossy; the others exact.
        assert np.abs(everything.astype(int) - 120).max() <= 3


def test_splits_hold_out_whole_files_by_seed(tmp_path):
    total = write_folder(tmp_path, per_class=20)
    data = images.load_image_folder(str(tmp_path), image_size=[4, 4], test_fraction=0.2, seed=1)
    train, _, validation, _ = data.split(0.25, seed=3)
    parts = [set(train), set(validation), set(data.test_items)]
    assert sum(map(len, parts)) == total == len(set.union(*parts))  # Disjoint, and every file in one.
    assert (len(data.test_items), len(validation)) == (12, 12)
    again = images.load_image_folder(str(tmp_path), image_size=[4, 4], test_fraction=0.2, seed=1)
    assert list(again.test_items) == list(data.test_items) and list(again.split(0.25, 3)[2]) == list(validation)
    other = images.load_image_folder(str(tmp_path), image_size=[4, 4], test_fraction=0.2, seed=2)
    assert set(other.test_items) != set(data.test_items)
    # The pipelines read exactly those files.
    inputs = data.pipelines(feed(seed=3), 0.25)
    assert sorted(levels(inputs.validation)) == sorted(int(os.path.basename(p)[:3]) for p in validation)
    assert inputs.train_examples == len(train) == len(levels(inputs.train))


def test_classes_and_limits_cut_the_files_before_any_is_decoded(tmp_path):
    write_folder(tmp_path, per_class=10)
    for index in range(3):  # Undecodable files in a class left out.
        (tmp_path / "cats" / f"bad{index}.png").write_bytes(b"oops")
    data = images.load_image_folder(str(tmp_path), image_size=[4, 4], test_fraction=0.2).only([1, 0])
    assert data.class_names == ["bees", "ants"] and set(data.y_train) | set(data.y_test) == {0, 1}
    limited = data.limited(5, 3)
    assert (len(limited.train_items), len(limited.test_items)) == (5, 3)
    inputs = limited.pipelines(feed(), 0.0)
    assert len(levels(inputs.train)) == 5 and len(levels(inputs.test)) == 3
    # bees (label 0 now) are files 10-19, ants 0-9.
    pairs = [(int(round(float(image.mean()) / 3)), int(label))
             for batch, labels in inputs.train for image, label in zip(batch.numpy(), labels.numpy())]
    assert all((level >= 10) == (label == 0) for level, label in pairs)


@pytest.mark.parametrize("cache", ["none", "memory", "disk"])
def test_every_epoch_reads_each_training_file_once_in_a_new_order(tmp_path, cache):
    write_folder(tmp_path / "images", per_class=20)
    data = images.load_image_folder(str(tmp_path / "images"), image_size=[4, 4], test_fraction=0.1)
    inputs = data.pipelines(feed(cache=cache, cache_dir=tmp_path / "cache"), 0.0)
    first, second = levels(inputs.train), levels(inputs.train)
    expected = sorted(int(os.path.basename(path)[:3]) for path in data.train_items)
    assert sorted(first) == sorted(second) == expected
    assert first != second
    written = sorted(path.name for path in (tmp_path / "cache").glob("*")) if (tmp_path / "cache").exists() else []
    assert (cache == "disk") == bool(written) and not any(name.endswith(".lockfile") for name in written)


def test_shuffling_streamed_files_needs_no_buffer_of_images(tmp_path):
    write_folder(tmp_path, per_class=4)
    data = images.load_image_folder(str(tmp_path), image_size=[4, 4], test_fraction=0.25)
    # Without a cache the paths are shuffled (strings), not decoded images.
    plan = data.pipelines(feed(), 0.0).train
    assert _buffer_sizes(plan) == [9] and _shuffled_before_decoding(plan)  # All 9 paths.
    cached = data.pipelines(feed(cache="memory"), 0.0).train
    assert _buffer_sizes(cached) == [min(pipeline.STREAM_SHUFFLE_BUFFER, 9)]


def _ops(dataset: tf.data.Dataset) -> list[str]:
    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(tf.raw_ops.DatasetToGraphV2(input_dataset=dataset._variant_tensor).numpy())
    return [node.op for node in graph.node]


def _shuffled_before_decoding(dataset: tf.data.Dataset) -> bool:
    ops = [op for op in _ops(dataset) if "Dataset" in op]
    shuffle = next(index for index, op in enumerate(ops) if op.startswith("Shuffle"))
    decode = next(index for index, op in enumerate(ops) if "Map" in op)
    return shuffle < decode


def _buffer_sizes(dataset: tf.data.Dataset) -> list[int]:
    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(tf.raw_ops.DatasetToGraphV2(input_dataset=dataset._variant_tensor).numpy())
    constants = {node.name: node for node in graph.node if node.op == "Const"}
    sizes = []
    for node in graph.node:
        if node.op.startswith("ShuffleDataset"):
            tensor = constants[node.input[1].split(":")[0]].attr["value"].tensor
            sizes.append(int(tf.make_ndarray(tensor)))
    return sizes


def test_a_disk_cache_killed_while_written_is_rebuilt(tmp_path):
    """kill -9 while the first epoch writes the disk cache: the next run
    removes the unfinished cache and reads every file once more."""
    write_folder(tmp_path / "images", per_class=25)
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT / 'tests')!r})
        from test_streaming import feed, images
        data = images.load_image_folder({str(tmp_path / 'images')!r}, image_size=[4, 4], test_fraction=0.1)
        cache_dir = __import__("pathlib").Path({str(tmp_path / "cache")!r})
        inputs = data.pipelines(feed(cache="disk", cache_dir=cache_dir, batch_size=1, shuffle_buffer=2), 0.0)
        for step, _ in enumerate(inputs.train):
            if step == 10:
                print("writing", flush=True)
            time.sleep(0.05)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True,
                               cwd=ROOT)
    assert process.stdout.readline().strip() == "writing", process.stderr.read()[-2000:]
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert any(path.name.endswith(".lockfile") for path in (tmp_path / "cache").iterdir())
    data = images.load_image_folder(str(tmp_path / "images"), image_size=[4, 4], test_fraction=0.1)
    inputs = data.pipelines(feed(cache="disk", cache_dir=tmp_path / "cache"), 0.0)
    assert len(levels(inputs.train)) == len(levels(inputs.train)) == len(data.train_items)
    assert not any(path.name.endswith(".lockfile") for path in (tmp_path / "cache").iterdir())


def _folder_recipe(workdir, *data_lines: str) -> str:
    """A recipe training a tiny CNN on ``workdir/images``, with more ``data`` keys."""
    recipe = workdir / "folder.yaml"
    recipe.write_text("\n".join([
        "name: folder",
        "data:",
        "  dataset: image_folder",
        f"  path: {workdir / 'images'}",
        "  image_size: [8, 8]",
        "  color_mode: rgb",
        "  test_fraction: 0.25",
        *(f"  {line}" for line in data_lines),
        "model: {builder: cnn, filters: [4], dense_units: [8]}",
        "training: {epochs: 2, batch_size: 8}",
    ]) + "\n")
    return str(recipe)


def test_an_image_folder_streams_through_run_evaluate_and_export(workdir):
    from PIL import Image

    write_folder(workdir / "images", per_class=12, mode="RGB", suffix=".jpg")
    Image.new("L", (31, 17), color=200).save(workdir / "images" / "ants" / "grey.png")  # Mixed sizes and modes.
    litter = add_mac_litter(workdir / "images")
    recipe = _folder_recipe(workdir, "cache: disk")
    result = run_cli_here("run", recipe, "--json", "--quiet", cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    # The Mac's files are never examples or classes: one line counts them, and nothing else names them.
    assert f"Ignored {litter} system files and folders" in result.stderr
    assert "._000" not in result.stderr and "DS_Store" not in result.stderr.replace("(.DS_Store,", "")
    summary = json.loads(result.stdout)
    matrix = np.array(summary["classifier"]["confusion_matrix"])  # Every test file scored, the accuracy its diagonal.
    assert matrix.sum() == round(37 * 0.25)
    assert summary["test"]["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    assert summary["skipped_corrupt"] == 0 and summary["epochs"] == 2
    assert summary["export_max_difference"] <= 1e-4
    assert not (workdir / summary["run_dir"] / "cache").exists()  # The disk cache goes with the run's end.
    # The folder is named by the user's recipe: the model's own names a path (artifacts/trust.py).
    evaluated = run_cli_here("evaluate", summary["export_path"], recipe, "--json", cwd=workdir)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    scored = json.loads(evaluated.stdout)
    assert scored["test_examples"] == round(37 * 0.25)
    assert scored["test"]["accuracy"] == pytest.approx(summary["test"]["accuracy"])


def test_a_corrupt_image_stops_the_run_naming_it_and_leaves_nothing(workdir):
    write_folder(workdir / "images", per_class=6, mode="RGB")
    bad = workdir / "images" / "bees" / "truncated.png"
    bad.write_bytes((workdir / "images" / "bees" / "006.png").read_bytes()[:40])
    result = run_cli_here("run", _folder_recipe(workdir), cwd=workdir)
    assert result.returncode == 2, result.stderr[-3000:]  # Bad input (docs/runs.md#exit-codes).
    assert f"{bad} cannot be decoded (Invalid PNG" in result.stderr and "data.skip_corrupt: true" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(path.name for path in workdir.iterdir()) == ["folder.yaml", "images"]  # No runs/, no saved_models/.
    add_mac_litter(workdir / "images")
    skipped = run_cli_here("run", _folder_recipe(workdir, "skip_corrupt: true"), "--json", "--quiet", cwd=workdir)
    assert skipped.returncode == 0, skipped.stderr[-3000:]
    assert json.loads(skipped.stdout)["skipped_corrupt"] == 1  # The truncated PNG alone, not the Mac's files.
    assert "Skipped 1 examples that cannot be decoded" in skipped.stderr


def test_workers_read_disjoint_files(workdir):
    """Two workers on loopback, each through the real strategy and the run's
    own pipelines: each reads its own half of the training files."""
    total = write_folder(workdir / "images", per_class=8)
    recipe = _folder_recipe(workdir)
    script = textwrap.dedent(f"""
        import json
        from kerasdl.recipe import load_recipe
        from kerasdl.tasks import loop
        recipe = load_recipe({recipe!r}, overrides=["training.validation_split=0", "data.color_mode=grayscale"])
        task = loop.prepared(recipe, log=lambda line: None)
        seen = []
        for images, _ in task.placement.strategy.experimental_distribute_dataset(task.train_data):
            for local in task.placement.strategy.experimental_local_results(images):
                seen += [int(round(float(image.mean()) / 3)) for image in local.numpy()]
        print(json.dumps({{"shard": task.placement.input_shard(), "seen": seen}}))
    """)
    sockets = [__import__("socket").socket() for _ in range(2)]
    for handle in sockets:
        handle.bind(("127.0.0.1", 0))
    cluster = {"worker": [f"127.0.0.1:{handle.getsockname()[1]}" for handle in sockets]}
    for handle in sockets:
        handle.close()
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ,
                 "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})},
        )
        for index in range(2)
    ]
    outputs = [process.communicate(timeout=300) for process in processes]
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
    first, second = (json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs)
    assert (first["shard"], second["shard"]) == ([2, 0], [2, 1])
    training = total - round(total * 0.25)
    assert len(first["seen"]) == len(second["seen"]) == training // 2
    assert not set(first["seen"]) & set(second["seen"])  # Disjoint files.
    assert len(set(first["seen"]) | set(second["seen"])) == training // 2 * 2


def test_the_tf_data_service_does_the_training_pipeline(workdir):
    """A dispatcher and a worker on 127.0.0.1: a run whose recipe names the
    dispatcher trains on batches the service made."""
    write_folder(workdir / "images", per_class=8, mode="RGB")
    dispatcher = tf.data.experimental.service.DispatchServer(tf.data.experimental.service.DispatcherConfig(port=0))
    address = dispatcher.target.split("://")[1]
    worker = tf.data.experimental.service.WorkerServer(  # noqa: F841 (serves while it lives)
        tf.data.experimental.service.WorkerConfig(dispatcher_address=address)
    )
    from kerasdl.recipe import load_recipe
    from kerasdl.tasks import loop

    recipe = load_recipe(_folder_recipe(workdir, f"service: {dispatcher.target}"))
    task = loop.prepared(recipe, log=lambda line: None)
    assert any(op.startswith("DataServiceDataset") for op in _ops(task.train_data))
    history = task.fit([], verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert sum(int(batch.shape[0]) for batch, _ in task.train_data) == task.train_examples  # Each example once.


# -- TFRecord files --------------------------------------------------------------

def write_records(path, levels_and_labels, size=(6, 5), drop_label_at=None, corrupt_at=None):
    """A TFRecord file of PNG images (flat grey ``level``) with int64 labels."""
    import io

    from PIL import Image

    with tf.io.TFRecordWriter(str(path)) as writer:
        for index, (level, label) in enumerate(levels_and_labels):
            encoded = io.BytesIO()
            Image.new("L", size[::-1] if index % 2 else (size[1] + 3, size[0] + 1), color=level).save(encoded, "PNG")
            image = encoded.getvalue() if index != corrupt_at else b"not a png"
            feature = {"pixels": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image]))}
            if index != drop_label_at:
                feature["class"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def _record_levels(dataset) -> list[int]:
    return [int(round(float(image.numpy().mean()) / 3)) for image, _ in dataset]


def test_tfrecords_split_by_record_and_shard_by_file(tmp_path):
    from kerasdl.data import records

    for part in range(4):  # Record n of the whole set has level 3n and label n % 2.
        write_records(tmp_path / f"train-{part}.tfrecord", [(3 * n, n % 2) for n in range(10 * part, 10 * part + 10)])
    data = records.load_tfrecord(str(tmp_path / "train-*.tfrecord"), input_key="pixels", label_key="class",
                                 image_size=[4, 4], test_fraction=0.25, seed=3)
    assert data.class_names == ["0", "1"] and data.input_shape == (4, 4, 1) and data.test_examples == 10
    train, train_labels, validation, _ = data.split(0.2, seed=5)
    assert not set(train) & set(validation) and not (set(train) | set(validation)) & set(data.test_items)
    assert len(train) + len(validation) + data.test_examples == 40
    # The test split is read in the order of its labels.
    tested = list(data.examples(data.test_items, data.y_test))
    assert [int(label) for _, label in tested] == list(data.y_test)
    assert _record_levels(tested) == list(data.test_items)
    assert data.describe(data.test_items[-1]).startswith(str(tmp_path / "train-"))
    # Two workers read whole files of their own, as many records each.
    shares = [_record_levels(data.examples(train, train_labels, shard=(2, index), seed=1)) for index in range(2)]
    assert len(shares[0]) == len(shares[1]) > 0 and not set(shares[0]) & set(shares[1])
    files_of = [{level // 10 for level in share} for share in shares]
    assert not files_of[0] & files_of[1]
    # A float input, and a bad spec named with its record.
    write_records(tmp_path / "bad.tfrecord", [(1, 0), (2, 1), (3, 0)], drop_label_at=1)
    with pytest.raises(DataError, match=r"bad.tfrecord record 1 does not match the recipe's features: .*`class`"):
        records.load_tfrecord(str(tmp_path / "bad.tfrecord"), input_key="pixels", label_key="class")


def test_a_tfrecord_dataset_trains_exports_and_names_a_bad_record(workdir):
    write_records(workdir / "train.tfrecord", [(40 + 150 * (n % 2), n % 2) for n in range(40)])
    write_records(workdir / "test.tfrecord", [(40 + 150 * (n % 2), n % 2) for n in range(12)], corrupt_at=5)
    recipe = workdir / "records.yaml"
    recipe.write_text("\n".join([
        "name: records",
        "data:",
        "  dataset: tfrecord",
        f"  files: {workdir / 'train.tfrecord'}",
        f"  test_files: [{workdir / 'test.tfrecord'}]",
        "  input_key: pixels",
        "  label_key: class",
        "  image_size: [8, 8]",
        "  class_names: [dark, light]",
        "model: {builder: cnn, filters: [4], dense_units: [8]}",
        # The model after its 3 epochs: 4 validation records make val_loss
        # noise, so the best-val_loss epoch would be a coin toss.
        "training: {epochs: 3, batch_size: 8, checkpoint: last}",
    ]) + "\n")
    failed = run_cli_here("run", str(recipe), cwd=workdir)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert f"{workdir / 'test.tfrecord'} record 5 cannot be decoded" in failed.stderr
    assert not (workdir / "saved_models").exists()
    result = run_cli_here("run", str(recipe), "--json", "--quiet", "--set", "data.skip_corrupt=true", cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["skipped_corrupt"] == 1 and summary["export_max_difference"] <= 1e-4
    assert summary["test"]["accuracy"] == 1.0  # Dark and light, 150 grey levels apart.


def test_a_tfds_dataset_of_images_of_many_sizes_trains_and_exports(workdir):
    """tf_flowers' images differ in size (mock data draws random ones):
    streamed, resized to data.image_size, trained, exported."""
    import tensorflow_datasets as tfds

    from kerasdl.recipe import load_recipe
    from kerasdl.tasks import loop

    recipe = workdir / "flowers.yaml"
    recipe.write_text("\n".join([
        "name: flowers",
        "data: {dataset: tfds, name: tf_flowers, train_split: train, test_split: train, image_size: [12, 12]}",
        "model: {builder: cnn, filters: [4], dense_units: [8]}",
        "training: {epochs: 2, batch_size: 8}",
    ]) + "\n")
    with tfds.testing.mock_data(num_examples=24):
        with pytest.raises(DataError, match="its images differ in size; set data.image_size"):
            loop.create(load_recipe(str(recipe), ["data.image_size=null"]), log=lambda line: None)
        summary = loop.run(load_recipe(str(recipe)), verbose=0, log=lambda line: None)
    assert summary["dataset"] == "TFDS tf_flowers" and summary["epochs"] == 2
    matrix = np.array(summary["classifier"]["confusion_matrix"])  # The 24 mock test images, each scored once.
    assert summary["export_max_difference"] <= 1e-4 and matrix.sum() == 24
    assert summary["test"]["accuracy"] == pytest.approx(np.trace(matrix) / 24)


def test_a_csv_table_streams_line_by_line_through_a_run(workdir):
    """Blank lines, a trailing blank line, named classes: lines are numbered
    as the file has them, and a dense model learns the table."""
    rows = [f"{'big' if value > 20 else 'small'},{value},{value % 7}" for value in range(40)]
    rows.insert(10, "")
    (workdir / "table.csv").write_text("label,a,b\n" + "\n".join(rows) + "\n\n")
    recipe = workdir / "table.yaml"
    recipe.write_text("\n".join([
        "name: table",
        f"data: {{dataset: csv, path: {workdir / 'table.csv'}, test_fraction: 0.25}}",
        "model: {builder: dense, units: [8]}",
        "optimizer: {learning_rate: 0.05}",
        "training: {epochs: 30, batch_size: 8, validation_split: 0}",
    ]) + "\n")
    result = run_cli_here("run", str(recipe), "--json", "--quiet", cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["dataset"] == f"CSV {workdir / 'table.csv'}" and summary["test"]["accuracy"] >= 0.8


# -- Text files ------------------------------------------------------------------

def test_a_text_folder_streams_and_names_a_file_that_is_not_its_encoding(workdir):
    """Texts read in the graph, transcoded from data.encoding; the
    vocabulary adapts to every training text as it streams; a file in
    another encoding, or an empty one, is named (or skipped and counted)."""
    words = {"pos": "good great fine lovely", "neg": "bad awful poor dreadful"}
    for label, vocabulary in words.items():
        (workdir / "texts" / label).mkdir(parents=True)
        for index in range(12):
            chosen = vocabulary.split()[index % 4], vocabulary.split()[(index + 1) % 4]
            (workdir / "texts" / label / f"{index}.txt").write_text(f"a {chosen[0]} café, {chosen[1]}",
                                                                    encoding="latin-1")
    recipe = workdir / "texts.yaml"
    recipe.write_text("\n".join([
        "name: texts",
        f"data: {{dataset: text_folder, path: {workdir / 'texts'}, encoding: latin-1, test_fraction: 0.25}}",
        "model: {builder: lstm, units: [8], max_tokens: 50, sequence_length: 6, embedding_dim: 8}",
        "optimizer: {learning_rate: 0.02}",
        "training: {epochs: 8, batch_size: 4, validation_split: 0}",
    ]) + "\n")
    from kerasdl.data import texts

    data = texts.load_text_folder(str(workdir / "texts"), encoding="latin-1", test_fraction=0.25)
    assert data.kind == "texts" and data.input_shape == () and "café" in data.read(data.test_items[:1])[0]
    result = run_cli_here("run", str(recipe), "--json", "--quiet", cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["task"] == "text" and summary["test"]["accuracy"] == 1.0  # The classes share no word.
    assert "tfidf_logistic_regression" in summary["baselines"] and summary["export_max_difference"] <= 1e-4
    evaluated = run_cli_here("evaluate", summary["export_path"], str(recipe), "--json", cwd=workdir)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert json.loads(evaluated.stdout)["test"]["accuracy"] == 1.0
    # Bytes that are not UTF-8 (as data.encoding says), and a file of blanks, are named.
    for label in ("neg", "pos"):
        (workdir / "utf8" / label).mkdir(parents=True)
        (workdir / "utf8" / label / "fine.txt").write_text("a café", encoding="utf-8")
    (workdir / "utf8" / "neg" / "broken.txt").write_bytes(b"bad \xff\xfe text")
    (workdir / "utf8" / "pos" / "empty.txt").write_text("  \n")
    strict = texts.load_text_folder(str(workdir / "utf8"), test_fraction=0.25)
    for name, reason in (("neg/broken.txt", "Invalid formatting on input string"),
                         ("pos/empty.txt", "the file holds no text")):
        # The error is the file read's; the message names every bad file of the dataset.
        with pytest.raises(DataError, match=rf"/neg/broken.txt, .*/pos/empty.txt cannot be decoded \(.*{reason}.*\)\. "
                                            "Fix or remove them, or set `data.skip_corrupt: true`"):
            strict.read(np.array([str(workdir / "utf8" / name)]))
    (workdir / "texts" / "pos" / "empty.txt").write_text("  \n")
    skipping = texts.load_text_folder(str(workdir / "texts"), encoding="latin-1", skip_corrupt=True).without_corrupt()
    assert skipping.skipped == 1 and "empty.txt" in skipping.notes[-1]


# -- Imbalanced classes (issue 21) ---------------------------------------------------


def test_oversampling_streamed_files_repeats_file_names_and_evens_the_classes(tmp_path):
    write_folder(tmp_path / "images", per_class=12)
    for path in sorted((tmp_path / "images" / "cats").iterdir())[3:]:  # cats: 3 images, against 12 and 12.
        path.unlink()
    data = images.load_image_folder(str(tmp_path / "images"), image_size=[4, 4], test_fraction=0.1)
    inputs = data.pipelines(feed(oversample=True), 0.0)
    labels = np.concatenate([batch_labels.numpy() for _, batch_labels in inputs.train])
    counts = np.bincount(labels)
    assert len(set(counts)) == 1 and inputs.train_examples == counts.sum() == 3 * counts.max()
    read = levels(inputs.train)
    originals = sorted(int(os.path.basename(path)[:3]) for path in data.train_items)
    assert set(read) == set(originals) and len(read) > len(originals)  # Every file, some twice.
    assert np.array_equal(inputs.fit_labels, data.y_train)  # Baselines and adaptation see each example once.
    assert data.pipelines(feed(), 0.0).train_examples == len(originals)


def test_tfrecords_cannot_be_oversampled_and_say_what_to_use(tmp_path):
    from kerasdl.data import records

    write_records(tmp_path / "train.tfrecord", [(3 * n, int(n < 2)) for n in range(12)])
    data = records.load_tfrecord(str(tmp_path / "train.tfrecord"), input_key="pixels", label_key="class",
                                 image_size=[4, 4], test_fraction=0.25)
    with pytest.raises(DataError, match=r"training.oversample: .* is read record by record, in its own order, so "
                                        r"kerasdl cannot repeat single examples of it. Use training.class_weight: "
                                        r"balanced instead."):
        data.pipelines(feed(oversample=True), 0.0)
