"""Which stages of a run are done: ``progress.json`` in the run folder.

A run goes through ``STAGES`` in order. Each stage's result is recorded
(atomically) as soon as it is done, so a run killed anywhere resumes with
the same command at the first stage not recorded: a run killed while
exporting does not train again, one killed while training resumes from
its last epoch (``checkpoint.py``). The file is removed with
the checkpoints once ``metrics.json`` is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from kerasdl.errors import DataError
from kerasdl.runtime import atomic, runs

# train: the model trained and its weights kept (runs.TRAINED);
# evaluate: test scores, baselines and the task's report; save: the
# run folder's model files; export: the export's folder and difference.
STAGES = ("train", "evaluate", "save", "export")


class Progress:
    """The recorded stages of the run in ``folder``; with None (a worker's
    scratch folder, a task that does not resume) they are kept in memory
    alone.

    Raises:
        DataError: when ``progress.json`` is unreadable, naming it and
            ``--fresh``.
    """

    def __init__(self, folder: Optional[Path]):
        self.path = folder / runs.PROGRESS if folder is not None else None
        self.stages: dict[str, Any] = {}
        if self.path is not None and self.path.exists():
            try:
                self.stages = json.loads(self.path.read_text())
                if not isinstance(self.stages, dict):
                    raise ValueError("not a JSON object")
            except (OSError, ValueError) as error:
                raise DataError(
                    f"{self.path}: this run's record of its finished stages cannot be read ({error}). "
                    "Start a new run with --fresh (the folder can then be deleted)."
                ) from None

    @property
    def kept(self) -> bool:
        """Whether the stages are written to the run folder (it resumes)."""
        return self.path is not None

    def done(self, stage: str) -> bool:
        return stage in self.stages

    def result(self, stage: str) -> Optional[Any]:
        return self.stages.get(stage)

    def record(self, stage: str, result: Any = None) -> Any:
        """Records ``stage`` as done with its (JSON) result; returns the result."""
        if stage not in STAGES:
            raise ValueError(f"Unknown stage {stage!r}; expected one of {STAGES}.")
        self.stages[stage] = result
        if self.path is not None:
            atomic.write_json(self.path, self.stages)
        return result

