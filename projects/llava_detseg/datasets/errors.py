"""The one error type for bad user data, and the raise-or-skip policy."""
from typing import Dict

from mmengine.logging import print_log

ON_ERROR = ('raise', 'skip')


class DataError(ValueError):
    """Bad input data; the message names the file, the sample and the field.

    Tools catch it and print the message alone, without a traceback.
    """


def error_summary(error: Exception) -> str:
    """The error's own line.

    A DataError re-raised from a DataLoader worker carries the worker's
    traceback in its message; its last line is the error itself.
    """
    text = str(error).strip().splitlines()
    last = text[-1] if text else repr(error)
    return last.split('DataError: ', 1)[-1]


def data_error(file: str, sample: str, field: str, problem: str) -> DataError:
    """Build a :class:`DataError` with the project's message layout."""
    return DataError(f'{file}: sample {sample}, field "{field}": {problem}')


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

    def __call__(self, error: DataError, what: str) -> None:
        """Raise ``error``, or log it and count one skipped ``what``."""
        if self.on_error == 'raise':
            raise error
        self.skipped[what] = self.skipped.get(what, 0) + 1
        print_log(f'{self.owner}: skipped {what}: {error}', logger='current',
                  level=30)

    def summary(self) -> str:
        """One line, e.g. ``skipped 2 annotation(s), 1 image(s)``."""
        return ', '.join(f'{n} {what}(s)' for what, n in self.skipped.items())
