"""Time series for forecasting: windows of past values -> the next values.

A ``Series`` holds the whole series (time x columns, the target first) and
cuts it into examples: the ``window`` values up to time t (target and
covariates) are an input, the target's ``horizon`` values from t on are its
label. Splits are chronological: the test examples' labels lie in the last
``test_fraction`` of the time steps, the validation examples' just before,
and no training label reaches into either. Inputs may reach back into the
part before, as they would in use.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kerasdl.data.files import package_file, read_csv_rows
from kerasdl.data.in_memory import InMemory
from kerasdl.errors import DataError
from kerasdl.registry import register_dataset

CO2_WHEEL = "statsmodels"
CO2_FILE = "datasets/co2/co2.csv"
CO2_SHA256 = "16695fa2786e53414e5a6b54767a3fdf5de99cfbc68617f69d1362d92776a92f"
WEEKS_PER_YEAR = 52
# What a forecaster's export returns: the next `horizon` target values.
FORECAST = "forecast"


@dataclasses.dataclass
class Series(InMemory):
    """A series and how it is cut into forecasting examples.

    Attributes:
        values: ``[time, columns]`` float32, the target in column 0, any
            covariates after it.
        columns: The columns' names.
        times: The time of each step, as written in the data.
        window: Past steps in one input.
        horizon: Future target values in one label.
        test_start: The first time step of the held-out tail.
        season: The season's length in steps (52 for weekly data), for
            the seasonal-naive baseline; None if the series has none.
        source: Where the data came from, for messages.
        max_train: Keep only the latest this many training examples.
        max_test: Keep only the first this many test examples.
    """

    values: np.ndarray
    columns: list[str]
    times: list[str]
    window: int
    horizon: int
    test_start: int
    season: Optional[int]
    source: str
    max_train: Optional[int] = None
    max_test: Optional[int] = None

    output_name = FORECAST
    kind = "series"
    description = "a time series"
    class_names = None  # A forecast has no classes.

    @property
    def input_shape(self) -> tuple[int, int]:
        return (self.window, self.values.shape[1])

    def origins(self, first: int, end: int) -> np.ndarray:
        """Time steps t whose label (t .. t+horizon-1) lies in [first, end)
        and whose input window (t-window .. t-1) lies in the series."""
        return np.arange(max(first, self.window), end - self.horizon + 1)

    def examples(self, origins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inputs ``[n, window, columns]`` and labels ``[n, horizon]`` at ``origins``."""
        past = origins[:, None] + np.arange(-self.window, 0)[None]
        future = origins[:, None] + np.arange(self.horizon)[None]
        return self.values[past], self.values[future, 0]

    def train_origins(self) -> np.ndarray:
        origins = self.origins(0, self.test_start)
        return origins[-self.max_train:] if self.max_train else origins

    def test_origins(self) -> np.ndarray:
        return self.origins(self.test_start, len(self.values))[: self.max_test]

    @property
    def x_train(self) -> np.ndarray:
        return self.examples(self.train_origins())[0]

    @property
    def y_train(self) -> np.ndarray:
        return self.examples(self.train_origins())[1]

    @property
    def x_test(self) -> np.ndarray:
        return self.examples(self.test_origins())[0]

    @property
    def y_test(self) -> np.ndarray:
        return self.examples(self.test_origins())[1]

    @property
    def output_width(self) -> int:
        """Values the model returns per example: the horizon."""
        return self.horizon

    def limited(self, max_train: Optional[int], max_test: Optional[int]) -> "Series":
        """The latest ``max_train`` training and first ``max_test`` test examples."""
        return dataclasses.replace(self, max_train=max_train, max_test=max_test)

    def only(self, classes: Sequence[int]) -> "Series":
        raise ValueError(f"{self.source} has no classes to choose from. Remove the key.")

    def split(self, fraction: float, seed: int) -> tuple:
        """Training examples less a chronological validation share: the
        validation labels are the training part's last ``fraction`` of time
        steps, and no remaining training label reaches into them.

        Returns:
            ``(x, y, x_validation, y_validation)``; the last two are None
            when ``fraction`` is 0.
        """
        origins = self.train_origins()
        if not fraction:
            return (*self.examples(origins), None, None)
        start = origins[0]
        cut = self.test_start - int(math.ceil((self.test_start - start) * fraction))
        fit = origins[origins + self.horizon <= cut]
        validation = origins[origins >= cut]
        if not len(fit) or not len(validation):
            raise DataError(
                f"{self.source}: training.validation_split={fraction} leaves {len(fit)} training and "
                f"{len(validation)} validation windows. Use a longer series, a shorter data.window "
                "or data.horizon, or another training.validation_split."
            )
        return (*self.examples(fit), *self.examples(validation))

    def builder_inputs(self, fit_inputs: np.ndarray) -> tuple[dict, dict]:
        """Builder arguments from the data: ``(required, optional)``. The
        normalisation statistics come from ``fit_inputs`` only."""
        return {"input_shape": self.input_shape, "horizon": self.horizon, "adapt_data": fit_inputs}, {}

    def export_assets(self) -> dict[str, str]:
        """Files for the export's ``assets.extra/``: how to feed the model."""
        description = {
            "inputs": f"float32 [batch, {self.window}, {len(self.columns)}]: the last {self.window} "
                      "values of each column, oldest first, in the data's units",
            FORECAST: f"float32 [batch, {self.horizon}]: the next {self.horizon} values of "
                        f"'{self.columns[0]}'",
            "columns": self.columns,
            "window": self.window,
            "horizon": self.horizon,
            "trained_until": self.times[self.test_start - 1],
        }
        return {"series.json": json.dumps(description, indent=2) + "\n"}


def interpolate(values: np.ndarray) -> np.ndarray:
    """Fills NaNs in each column linearly between neighbours (the nearest
    value at the ends)."""
    filled = values.copy()
    steps = np.arange(len(values))
    for column in range(values.shape[1]):
        missing = np.isnan(values[:, column])
        if missing.any():
            filled[missing, column] = np.interp(steps[missing], steps[~missing], values[~missing, column])
    return filled


def make_series(
    values: np.ndarray, columns: list[str], times: list[str], *, window: int, horizon: int,
    test_fraction: float, season: Optional[int], source: str,
) -> Series:
    """Checks the cut and returns a ``Series``; missing values are interpolated.

    Raises:
        DataError: naming the ``data.`` key to change when the series is
            too short for the window, horizon and test share.
    """
    for key, value in (("window", window), ("horizon", horizon)):
        if value < 1:
            raise DataError(f"{source}: data.{key} must be >= 1. Received: {key}={value}")
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"{source}: data.test_fraction must be in (0, 1). Received: test_fraction={test_fraction}")
    if season is not None and season < 1:
        raise DataError(f"{source}: data.season must be >= 1 or null. Received: season={season}")
    for column, name in enumerate(columns):
        if np.isnan(values[:, column]).all():
            raise DataError(f"{source}: column '{name}' has no values.")
    length = len(values)
    test_start = length - max(horizon, int(round(length * test_fraction)))
    series = Series(interpolate(values).astype(np.float32), list(columns), list(times),
                    window, horizon, test_start, season, source)
    if not len(series.origins(0, test_start)) or not len(series.test_origins()):
        raise DataError(
            f"{source}: the series has {length} steps, too few for data.window={window} and "
            f"data.horizon={horizon}: training needs window + horizon = {window + horizon} steps "
            f"before the held-out {length - test_start} (data.test_fraction={test_fraction}), and the "
            "held-out part at least the horizon. Lower data.window or data.horizon, or use a longer series."
        )
    return series


@register_dataset("co2", shipped=True)
def load_co2(window: int = 104, horizon: int = 4, test_fraction: float = 0.2,
             season: Optional[int] = WEEKS_PER_YEAR) -> Series:
    """Weekly CO2 at Mauna Loa, ppm, 1958-2001 (2,284 weeks; public domain).

    Shipped in the PyPI package ``statsmodels`` (installed by ``make
    install`` with ``--no-deps``: only its data file is read). The 59
    missing weeks are interpolated linearly.

    Args:
        window: Past weeks in one input.
        horizon: Weeks forecast at once.
        test_fraction: The held-out tail's share of the weeks.
        season: Weeks in a season, for the seasonal-naive baseline.
    """
    path = package_file("statsmodels", CO2_FILE, CO2_WHEEL, "The CO2 series", CO2_SHA256)
    times, values = read_series_csv(path, "date", ["co2"])
    return make_series(values, ["co2"], times, window=window, horizon=horizon, test_fraction=test_fraction,
                       season=season, source=f"weekly CO2 (ppm) from {path}")


def _number(text: str) -> float:
    """A CSV field as a float; empty, NA and NaN are missing (NaN)."""
    text = text.strip()
    if text.lower() in ("", "na", "nan", "null"):
        return math.nan
    return float(text)


def read_series_csv(path: Path, time_column: str, value_columns: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Reads a time column and number columns, sorted by time.

    Times sort as numbers when they all are, otherwise as text (which
    orders ISO dates). Empty fields are missing values.

    Returns:
        ``(times, values)``: ``values`` is ``[time, len(value_columns)]``.

    Raises:
        DataError: for a missing file or column, a field that is not a
            number, a repeated time, or no rows.
    """
    columns = [("time_column", time_column)] + [("value_column/covariate_columns", name) for name in value_columns]
    header, indices, lines = read_csv_rows(path, columns, "one time step")
    times, rows = [], []
    for line, row in lines:
        times.append(row[indices[0]].strip())
        try:
            rows.append([_number(row[index]) for index in indices[1:]])
        except ValueError:
            bad = next(name for name, index in zip(value_columns, indices[1:]) if _is_not_number(row[index]))
            raise DataError(
                f"{path}, line {line}: column '{bad}' must hold numbers (or be empty where a value is "
                f"missing). Received: {row[header.index(bad)]!r}"
            ) from None
    order = sorted(range(len(times)), key=_time_key(times))
    times = [times[index] for index in order]
    for before, after in zip(times, times[1:]):
        if before == after:
            raise DataError(f"{path}: time {before!r} appears twice in column '{time_column}'; one row a time step.")
    return times, np.asarray(rows, dtype=np.float64)[order]


def _is_not_number(text: str) -> bool:
    try:
        _number(text)
        return False
    except ValueError:
        return True


def _time_key(times: list[str]):
    try:
        numbers = [float(time) for time in times]
        return lambda index: numbers[index]
    except ValueError:
        return lambda index: times[index]


@register_dataset("series_csv")
def load_series_csv(
    path: str,
    value_column: str,
    time_column: str = "time",
    covariate_columns: Sequence[str] = (),
    window: int = 24,
    horizon: int = 1,
    test_fraction: float = 0.2,
    season: Optional[int] = None,
) -> Series:
    """A CSV time series: a time column, the column to forecast, and
    optional covariate columns that are inputs only.

    Rows are sorted by time; one row is one step. Missing values (empty
    fields) are interpolated linearly.

    Args:
        path: The CSV file, with a header.
        value_column: The column to forecast.
        time_column: The column giving each row's time (numbers or ISO dates).
        covariate_columns: Other number columns fed to the model with the target.
        window: Past steps in one input.
        horizon: Steps forecast at once.
        test_fraction: The held-out tail's share of the steps.
        season: The season's length in steps, for the seasonal-naive baseline.
    """
    columns = [value_column, *covariate_columns]
    times, values = read_series_csv(Path(path), time_column, columns)
    return make_series(values, columns, times, window=window, horizon=horizon, test_fraction=test_fraction,
                       season=season, source=f"series '{value_column}' in {path}")
