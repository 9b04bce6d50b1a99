"""Forgetting: how much VQA accuracy a model lost against a reference."""
from typing import Dict


def forgetting_rate(metrics: Dict[str, float],
                    reference: Dict[str, float],
                    key: str = 'vqa/accuracy') -> Dict[str, float]:
    """Accuracy change and relative forgetting against ``reference``.

    ``forgetting_rate = (ref - acc) / ref``: 0 keeps everything, 1 forgets
    everything, negative means the model got better.

    Args:
        metrics (dict): The evaluated model's metrics.
        reference (dict): The reference model's metrics (e.g. LLaVA before
            the detection / segmentation stages).
        key (str): The accuracy metric.

    Returns:
        dict: ``{key}_reference``, ``{key}_change`` and
        ``{prefix}/forgetting_rate``.
    """
    for name, source in (('model', metrics), ('reference', reference)):
        if key not in source:
            raise KeyError(f'forgetting: the {name} metrics have no "{key}" '
                           f'(they have {sorted(source)}); does the test '
                           'set hold VQA samples?')
    acc, ref = float(metrics[key]), float(reference[key])
    prefix = key.split('/', 1)[0]
    return {
        f'{key}_reference': ref,
        f'{key}_change': acc - ref,
        f'{prefix}/forgetting_rate': (ref - acc) / ref if ref else 0.0,
    }
