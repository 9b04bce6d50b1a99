"""The datasets' earlier registry names, kept so that configs written for
them still build; each warns once and names the new one."""
import warnings

from llava_detseg.registry import DATASETS
from .coco2017 import Coco2017MultiTaskDataset
from .coco_format import CocoFormatMultiTaskDataset

# old registry name -> the class it now names
RENAMED = dict(MultiTaskCocoDataset=CocoFormatMultiTaskDataset,
               CocoMultiTaskDataset=Coco2017MultiTaskDataset)


def _deprecated(old: str, cls: type) -> type:
    """A registered subclass of ``cls`` under ``old`` that warns."""

    def __init__(self, *args, **kwargs) -> None:
        warnings.warn(f'dataset type {old!r} is deprecated: use '
                      f'{cls.__name__!r}', DeprecationWarning, stacklevel=2)
        cls.__init__(self, *args, **kwargs)

    alias = type(old, (cls, ), dict(__init__=__init__, __doc__=(
        f'Deprecated name of :class:`{cls.__name__}`.')))
    DATASETS.register_module(name=old, module=alias)
    return alias


for _old, _cls in RENAMED.items():
    _deprecated(_old, _cls)

__all__: list = []
