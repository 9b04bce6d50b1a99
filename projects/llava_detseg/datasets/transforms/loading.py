"""Image loading that names the sample on failure, and the map check."""
import os.path as osp
from typing import Optional

import mmengine.fileio as fileio
from mmcv.transforms import BaseTransform, LoadImageFromFile

from llava_detseg.registry import TRANSFORMS
from ..errors import ErrorPolicy, data_error
from ..validation import (decode_semantic_map, image_size_problem,
                          map_problem)


def _why(e: Exception) -> str:
    """A decoder's failure in words (Pillow names a BytesIO, not the file)."""
    if type(e).__name__ == 'UnidentifiedImageError':
        return 'not an image file Pillow can decode'
    return f'{type(e).__name__}: {e}'


def _sample(results: dict) -> str:
    name = osp.basename(results.get('img_path') or '?')
    return f'image id {results.get("img_id")} "{name}"'


@TRANSFORMS.register_module()
class LoadImageWithCheck(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that fails clearly on broken files.

    mmcv raises a bare ``FileNotFoundError`` / ``AssertionError`` deep in the
    data loader, and OpenCV decodes a truncated JPEG into a half-grey image
    without a word. Decoding with Pillow (the default here) raises on
    truncated files; any failure, and a decoded size other than the
    annotation's ``width`` / ``height`` (when the sample has them), becomes
    a ``DataError`` naming the file, the sample and the field, or, with
    ``on_error='skip'`` (training only), a logged skip after which
    MMEngine's dataset fetches another sample.

    Args:
        on_error (str): ``'raise'`` or ``'skip'``.
        imdecode_backend (str): ``'pillow'`` (detects truncation) or
            ``'cv2'``.
        **kwargs: ``LoadImageFromFile`` arguments.
    """

    def __init__(self,
                 on_error: str = 'raise',
                 imdecode_backend: str = 'pillow',
                 **kwargs) -> None:
        super().__init__(imdecode_backend=imdecode_backend, **kwargs)
        self.policy = ErrorPolicy(on_error, type(self).__name__)

    def transform(self, results: dict) -> Optional[dict]:
        """Load the image or report which sample's image is broken."""
        path = results.get('img_path', '?')
        try:
            out = super().transform(results)
            if out is None:  # mmcv's ignore_empty
                raise FileNotFoundError(path)
        except Exception as e:  # noqa: BLE001 - any decode failure is data
            self.policy(
                data_error(path, _sample(results), 'img_path',
                           f'cannot read the image ({_why(e)})',
                           'image.unreadable'), 'image')
            return None
        problem = image_size_problem(out['img'].shape, results.get('width'),
                                     results.get('height'))
        if problem:
            self.policy(
                data_error(path, _sample(results), 'width/height', problem,
                           'image.size'), 'image')
            return None
        return out


@TRANSFORMS.register_module()
class CheckSemanticMap(BaseTransform):
    """Check the sample's semantic map before the annotation loader reads it.

    A map of another size than its image fails with an ``IndexError`` deep
    in mmseg's loss or metric (or, resized with the image in training, trains
    on misplaced labels), a label above the class range fails the same way,
    an RGB or 16-bit PNG is expanded or cast by the loaders without a word,
    and OpenCV decodes a truncated file to ``None``. Each becomes a
    ``DataError`` naming the map, the sample and the field, with the
    offending values, or a counted skip (``on_error='skip'``, training only).
    The map is decoded here once more (with Pillow; a small PNG costs a
    millisecond) so that no loader sees a bad one. A sample without a map
    passes untouched.

    Place it after the image is loaded and before ``mmdet.LoadAnnotations``
    / ``mmseg.LoadAnnotations``.

    Args:
        num_classes (int, optional): Classes of the map; default: the
            sample's ``num_seg_classes``, which the datasets set.
        ignore_index (int): The label that is not scored.
        on_error (str): ``'raise'`` or ``'skip'``.
        backend_args (dict, optional): As in mmcv's loaders.
    """

    def __init__(self,
                 num_classes: Optional[int] = None,
                 ignore_index: int = 255,
                 on_error: str = 'raise',
                 backend_args: Optional[dict] = None) -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.backend_args = backend_args
        self.policy = ErrorPolicy(on_error, type(self).__name__)

    def transform(self, results: dict) -> Optional[dict]:
        path = results.get('seg_map_path')
        if not path:
            return results
        try:
            mode, seg = decode_semantic_map(
                fileio.get(path, backend_args=self.backend_args))
        except Exception as e:  # noqa: BLE001 - any decode failure is data
            fault = 'semantic.unreadable', (
                f'cannot read the semantic map ({_why(e)})')
        else:
            fault = map_problem(
                mode, seg, results.get('ori_shape') or
                results['img'].shape[:2],
                self.num_classes or results.get('num_seg_classes'),
                self.ignore_index, bool(results.get('reduce_zero_label')))
        if fault:
            self.policy(data_error(path, _sample(results), 'seg_map_path',
                                   fault[1], fault[0]), 'image')
            return None
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_classes={self.num_classes}, '
                f'ignore_index={self.ignore_index})')
