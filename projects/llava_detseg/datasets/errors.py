"""The one error type for bad user data, and the raise-or-skip policy."""
from typing import Dict, List, Optional

from mmengine.logging import print_log

ON_ERROR = ('raise', 'skip')


class DataError(ValueError):
    """Bad input data; the message names the file, the sample and the field.

    Tools catch it and print the message alone, without a traceback.
    Built by :func:`data_error`, it also carries its parts (``file``,
    ``sample``, ``field``, ``kind``) for reports that group faults.
    """

    file: str = ''
    sample: str = ''
    field: str = ''
    kind: str = ''


def error_summary(error: Exception) -> str:
    """The error's own line.

    A DataError re-raised from a DataLoader worker carries the worker's
    traceback in its message; its last line is the error itself.
    """
    text = str(error).strip().splitlines()
    last = text[-1] if text else repr(error)
    return last.split('DataError: ', 1)[-1]


def data_error(file: str, sample: str, field: str, problem: str,
               kind: Optional[str] = None) -> DataError:
    """Build a :class:`DataError` with the project's message layout.

    ``kind`` names the fault for reports (``tools/misc/check_dataset.py``
    counts per kind); it defaults to ``field``.
    """
    error = DataError(f'{file}: sample {sample}, field "{field}": {problem}')
    error.file, error.sample, error.field = file, sample, field
    error.kind = kind or field
    return error


def file_error(file: str, field: str, problem: str,
               kind: Optional[str] = None) -> DataError:
    """A :class:`DataError` about a whole file (no one sample is at fault),
    e.g. a missing ``annotations`` list or two categories sharing an id."""
    error = DataError(f'{file}: field "{field}": {problem}')
    error.file, error.field, error.kind = file, field, kind or field
    return error


class ErrorPolicy:
    """Raise on bad data, or count and log a skip (``on_error='skip'``).

    Args:
        on_error (str): ``'raise'`` or ``'skip'``.
        owner (str): Who applies the policy, for the log lines.
    """

    def __init__(self, on_error: str = 'raise', owner: str = '') -> None:
        if on_error not in ON_ERROR:
            raise ValueError(
                f'{owner}: on_error must be one of {ON_ERROR}, got '
                f'"{on_error}"')
        self.on_error = on_error
        self.owner = owner
        self.skipped: Dict[str, int] = {}
        # the skipped faults themselves, for reports (check_dataset.py)
        self.errors: List[DataError] = []

    def __call__(self, error: DataError, what: str, count: int = 1) -> None:
        """Raise ``error``, or log it and count ``count`` skipped ``what``
        (one fault can drop many samples, e.g. images without labels)."""
        if self.on_error == 'raise':
            raise error
        self.skipped[what] = self.skipped.get(what, 0) + count
        self.errors.append(error)
        print_log(f'{self.owner}: skipped {what}: {error}', logger='current',
                  level=30)

    def summary(self) -> str:
        """One line, e.g. ``skipped 2 annotation(s), 1 image(s)``."""
        return ', '.join(f'{n} {what}(s)' for what, n in self.skipped.items())
