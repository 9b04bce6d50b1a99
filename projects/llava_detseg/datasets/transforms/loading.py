"""Image loading that names the sample on failure."""
from typing import Optional

from mmcv.transforms import LoadImageFromFile

from llava_detseg.registry import TRANSFORMS
from ..errors import ErrorPolicy, data_error


@TRANSFORMS.register_module()
class LoadImageWithCheck(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that fails clearly on broken files.

    mmcv raises a bare ``FileNotFoundError`` / ``AssertionError`` deep in the
    data loader, and OpenCV decodes a truncated JPEG into a half-grey image
    without a word. Decoding with Pillow (the default here) raises on
    truncated files; any failure becomes a ``DataError`` naming the file, the
    sample and the field, or, with ``on_error='skip'`` (training only), a
    logged skip after which MMEngine's dataset fetches another sample.

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
        try:
            out = super().transform(results)
        except Exception as e:  # noqa: BLE001 - any decode failure is data
            sample = f'image id {results.get("img_id")}'
            self.policy(
                data_error(results.get('img_path', '?'), sample, 'img_path',
                           f'cannot read the image ({type(e).__name__}: '
                           f'{e})'), 'image')
            return None
        return out
