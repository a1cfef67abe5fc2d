"""The recipe reference, generated from the code it describes: the schema's
fields (``schema.py``), and every registered builder's and dataset
loader's signature and docstring. ``docs/recipes.md`` is this module's
output; a test fails when the committed file differs.

    python -m kerasdl.commands.reference docs/recipes.md   # or: make docs
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path
from typing import Any, Callable

from kerasdl import schema
from kerasdl.builders import augmentations
from kerasdl.registry import BUILDERS, DATASETS

TITLE = "# Recipe reference"
# What each section is for, in the order a recipe lists them.
SECTION_NOTES = {
    "data": "Which data, and how it is fed. The keys below are shared by every dataset; the other keys of the "
            "section are the chosen loader's arguments (see [Datasets](#datasets)). The pipeline is `tf.data`: "
            "cache, shuffle (reshuffled every epoch), batch, prefetch. `training.validation_split` of the "
            "training data is held out (seeded; the latest steps of a series); the test split is used only "
            "for the final evaluation. For a text corpus `max_train_examples` counts documents; for a series "
            "it keeps the latest training windows.",
    "model": "The builder, and its keyword arguments under their own names (see [Builders](#builders)). What "
             "the data determines comes from the data: `input_shape`, and `num_classes` or (for a series) "
             "`horizon`; `adapt_data`, the training inputs that preprocessing layers adapt to; for `word2vec`, "
             "`vocabulary_size`. A builder that does not train on the dataset is refused with both named.",
    "optimizer": "The Keras optimizer: the keys below, and any argument of the Keras class "
                 "(`momentum`, `weight_decay`, `clipnorm`, ...). A schedule is "
                 "`learning_rate: {schedule: NAME, warmup_steps: N, ...}` with the Keras schedule's own "
                 "arguments; `decay_steps` defaults to the run's length (cosine, linear) or one epoch "
                 "(exponential). A GAN builds two optimizers of these settings, one per network; Word2Vec "
                 "takes `sgd` or `adagrad` (row-wise) with no other key.",
    "training": "How and where it trains. For Word2Vec, `batch_size` counts centre words (a multiple of "
                "`data.block_size`), `steps_per_execution` steps run in one call on one device (each call is "
                "one step with several replicas), and `validation_split`, `loss` and `metrics` are not used.",
    "fine_tune": "The second phase of transfer learning (builder `transfer`, docs/transfer.md): after "
                 "`training.epochs`, the top of the backbone is unfrozen and training goes on with the recipe's "
                 "optimizer rebuilt at a constant, lower rate. A run killed in this phase resumes in it.",
    "pretrain": "Word2Vec pretraining of a text model's embedding (docs/lstm.md); only for labelled texts and "
                "a builder with an embedding.",
    "quality": "How a GAN's samples are scored after training (builder `gan`, docs/gan.md).",
    "anomaly": "What an autoencoder learns as normal and must flag as abnormal (builder `autoencoder`, "
               "docs/anomaly.md): set abnormal_dataset or held_out_class.",
    "export": "The SavedModel written after training (docs/using.md).",
}


def _value(value: Any) -> str:
    if value is schema.REQUIRED or value is inspect.Parameter.empty:
        return "required"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if value is None:
        return "`null`"
    if isinstance(value, (list, tuple)):
        return "`[" + ", ".join(str(item) for item in value) + "]`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _range(field: schema.Field) -> str:
    if field.minimum is None and field.maximum is None:
        return ""
    low = "-∞" if field.minimum is None else f"{field.minimum:g}"
    high = "∞" if field.maximum is None else f"{field.maximum:g}"
    close = ")" if field.maximum is None or field.exclusive_maximum else "]"
    return f", in [{low}, {high}{close}"


def _field_table(fields: dict[str, schema.Field], prefix: str = "") -> list[str]:
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for key, field in fields.items():
        kind = schema.type_name(field.type)
        if field.choices is not None:
            kind = "one of " + ", ".join(_value(choice) for choice in field.choices)
        kind += _range(field)
        lines.append(f"| `{prefix}{key}` | {_cell(kind)} | {_value(field.default)} | {_cell(field.help)} |")
    return lines


def argument_help(function: Callable, registry: Any) -> dict[str, str]:
    """The ``Args:`` section of a Google-style docstring, by argument.

    ``a, b: text`` describes both; ``Others: as for ``name``.`` takes the
    other arguments' help from the registry's entry ``name``.
    """
    doc = inspect.getdoc(function) or ""
    match = re.search(r"^Args:\n(.*?)(?=^\S|\Z)", doc, flags=re.S | re.M)
    found: dict[str, str] = {}
    names: list[str] = []
    for line in match.group(1).splitlines() if match else []:
        head = re.match(r"^    (\w+(?:, \w+)*): ?(.*)$", line)
        if head:
            names = head.group(1).split(", ")
            found.update({name: head.group(2) for name in names})
        elif names and line.strip():
            found.update({name: f"{found[name]} {line.strip()}" for name in names})
    other = re.fullmatch(r"as for ``(\w+)``\.?", found.pop("Others", ""))
    if other:
        found = {**argument_help(registry.get(other.group(1)), registry), **found}
    return found


def _entry(registry: Any, name: str, given_by: str) -> list[str]:
    function, supplied = registry.get(name), registry.data_arguments
    doc = inspect.getdoc(function) or ""
    summary = doc.split("\n\n")[0].replace("\n", " ")
    helps = argument_help(function, registry)
    annotations = schema.parameter_annotations(function)
    parameters = inspect.signature(function).parameters
    lines = [f"### `{name}`", "", f"`{function.__module__}.{function.__name__}`: {summary}", ""]
    given = [key for key in parameters if key in supplied]
    if given:
        lines += [f"{given_by}: {', '.join(f'`{key}`' for key in given)}.", ""]
    settable = [key for key in annotations if key not in supplied]
    if not settable:
        return lines + ["Nothing to set.", ""]
    lines += ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for key in settable:
        meaning = helps.get(key, "")
        lines.append(
            f"| `{key}` | {_cell(schema.type_name(annotations[key]))} | {_value(parameters[key].default)} | "
            f"{_cell(meaning)} |"
        )
    return lines + [""]


def _augmentation_layers() -> list[str]:
    """The layers a builder's ``augmentation`` list may name, with their Keras arguments."""
    lines = ["## Augmentation layers", "", augmentations.REFERENCE, "",
             "| name | Keras layer | arguments (Keras's defaults) | what it does |", "| --- | --- | --- | --- |"]
    for name, layer in augmentations.LAYERS.items():
        parameters = inspect.signature(layer.__init__).parameters
        arguments = ", ".join(
            f"`{key}`" + ("" if value.default is inspect.Parameter.empty else f" {_value(value.default)}")
            for key, value in parameters.items() if key not in ("self", "kwargs", *augmentations.SUPPLIED))
        summary = (inspect.getdoc(layer) or "").split("\n\n")[0].replace("\n", " ")
        lines.append(f"| `{name}` | `keras.layers.{layer.__name__}` | {_cell(arguments)} | {_cell(summary)} |")
    return lines + [""]


def markdown() -> str:
    """The whole reference, as docs/recipes.md holds it."""
    lines = [
        TITLE, "",
        "<!-- Generated by `python -m kerasdl.commands.reference docs/recipes.md` (`make docs`) from",
        "     kerasdl/schema.py and the builders' and loaders' signatures and docstrings.",
        "     Do not edit by hand: tests/test_reference.py fails when this file is not what the code says. -->",
        "",
        "A recipe is a YAML mapping of the sections below. Every key has a default except `model.builder`;",
        "unknown keys are errors that name the closest known key. `kerasdl run RECIPE --dry-run` prints the",
        "recipe with every default filled in. Any key can be set on the command line:",
        "`--set training.epochs=3` (values are YAML).",
        "",
        "## Top level", "",
        *_field_table(schema.TOP_LEVEL), "",
        "## Bases: `base`", "", schema.BASE_HELP, "",
    ]
    for section, fields in schema.SECTIONS.items():
        lines += [f"## `{section}`", "", SECTION_NOTES[section], "", *_field_table(fields), ""]
        for dotted, keys in schema.MAPPINGS.items():
            if dotted.startswith(f"{section}."):
                lines += [f"### `{dotted}`", "", "Its keys when it is a mapping (`{}` takes them all at their "
                          "defaults).", "", *_field_table(keys, dotted.split(".", 1)[1] + "."), ""]
    lines += [
        "## `tune`", "",
        "Read by `kerasdl tune` alone (docs/tuning.md describes the search spaces).", "",
        *_field_table(schema.TUNE), "",
        "## Builders", "",
        "The `model` section's keys other than `builder` are the builder's keyword arguments.", "",
    ]
    for name in BUILDERS.names():
        lines += _entry(BUILDERS, name, "From the data")
    lines += _augmentation_layers()
    lines += [
        "## Datasets", "",
        "The `data` section's keys other than the shared ones above are the loader's arguments.", "",
    ]
    for name in DATASETS.names():
        lines += _entry(DATASETS, name, "From `training.seed`")
    return "\n".join(lines).rstrip() + "\n"


def listing() -> list[str]:
    """``kerasdl list``: each registered builder and dataset with its docstring's first line."""
    text = []
    for title, registry in (("Model builders", BUILDERS), ("Datasets", DATASETS)):
        text.append(f"{title}:")
        for name in registry.names():
            doc = (registry.get(name).__doc__ or "").strip().splitlines()
            text.append(f"  {name:14s} {doc[0] if doc else ''}")
    return text


def main(arguments: list[str]) -> None:
    """Writes the reference to the file named, or prints it."""
    text = markdown()
    if arguments:
        Path(arguments[0]).write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
