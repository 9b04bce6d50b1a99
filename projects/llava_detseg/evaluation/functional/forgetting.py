"""Forgetting: how much of each VQA benchmark a model lost against a
reference (e.g. LLaVA before the detection / segmentation stages)."""
from typing import Dict, List, Sequence, Tuple

# Scores compared per benchmark prefix: a benchmark not listed compares its
# ``accuracy``. ``True``: higher is better.
PRIMARY: Dict[str, Tuple[Tuple[str, bool], ...]] = {
    'pope': (('f1', True), ),  # the number LLaVA-1.5 reports
    'mme': (('perception', True), ('cognition', True)),
    'conv': (('perplexity', False), ),  # free-form answers: lower is better
}
DEFAULT_PRIMARY = (('accuracy', True), )


class ForgettingError(ValueError):
    """Forgetting cannot be measured; the message names the benchmark."""


def benchmark_scores(metrics: Dict[str, float]) -> List[Tuple[str, bool]]:
    """The benchmark scores present in ``metrics``: ``[(key,
    higher_is_better)]``, e.g. ``('gqa/accuracy', True)``."""
    prefixes = dict.fromkeys(
        k.split('/', 1)[0] for k in metrics if k.count('/') == 1)
    out = []
    for prefix in prefixes:
        for name, higher in PRIMARY.get(prefix, DEFAULT_PRIMARY):
            if f'{prefix}/{name}' in metrics:
                out.append((f'{prefix}/{name}', higher))
    return out


def forgetting_table(metrics: Dict[str, float],
                     reference: Dict[str, float],
                     keys: Sequence[str] = None) -> List[dict]:
    """Per benchmark score: the reference, the current score, the change and
    the relative drop.

    ``drop = (ref - cur) / ref`` for a score where higher is better (0: all
    kept, 1: all forgotten, negative: better than the reference) and
    ``(cur - ref) / ref`` for one where lower is better (perplexity).

    Args:
        metrics (dict): The evaluated model's metrics.
        reference (dict): The reference's metrics, from the same config.
        keys (Sequence[str], optional): Scores to compare (default every
            benchmark score in either, see :data:`PRIMARY`).

    Returns:
        list[dict]: ``benchmark``, ``key``, ``reference``, ``current``,
        ``change``, ``drop``, ``higher_is_better``; a score on one side
        only has ``None`` for the missing side, the change and the drop.

    Raises:
        ForgettingError: No benchmark was scored on both sides, a benchmark
            scored no question, or a reference score is 0 (a relative drop
            is undefined there; a rate of 0.0 would read as "nothing
            forgotten").
    """
    if keys is None:
        found = dict(benchmark_scores(metrics))
        found.update(benchmark_scores(reference))
    else:
        found = {k: higher_is_better(k) for k in keys}
    if not found:
        raise ForgettingError(
            'forgetting: no VQA benchmark score (accuracy, f1, perplexity...) '
            f'in this run or the reference (this run has {sorted(metrics)})')
    rows = []
    for key, higher in found.items():
        prefix = key.split('/', 1)[0]
        for name, source in (('this run', metrics), ('the reference',
                                                     reference)):
            if source.get(f'{prefix}/num_questions', None) == 0:
                raise ForgettingError(
                    f'forgetting: benchmark "{prefix}" scored no question '
                    f'in {name}')
        if key not in metrics or key not in reference:
            # scored on one side only: shown, not compared
            rows.append(dict(benchmark=prefix, key=key,
                             reference=reference.get(key),
                             current=metrics.get(key), change=None,
                             drop=None, higher_is_better=higher))
            continue
        ref, cur = float(reference[key]), float(metrics[key])
        if ref == 0:
            raise ForgettingError(
                f'forgetting: the reference scores 0 on "{key}" (benchmark '
                f'"{prefix}"); a relative drop is undefined')
        drop = (ref - cur) / ref if higher else (cur - ref) / ref
        rows.append(dict(benchmark=prefix, key=key, reference=ref,
                         current=cur, change=cur - ref, drop=drop,
                         higher_is_better=higher))
    if all(r['drop'] is None for r in rows):
        raise ForgettingError(
            'forgetting: no benchmark was scored in both this run ('
            f'{[r["key"] for r in rows if r["current"] is not None]}) and '
            f'the reference ({[r["key"] for r in rows if r["reference"] is not None]}); '
            'evaluate both with the same config')
    return rows


def higher_is_better(key: str) -> bool:
    """Whether higher is better for ``key`` (see :data:`PRIMARY`)."""
    prefix, name = key.split('/', 1)
    for n, higher in PRIMARY.get(prefix, DEFAULT_PRIMARY):
        if n == name:
            return higher
    return True


def forgetting_rate(metrics: Dict[str, float],
                    reference: Dict[str, float],
                    keys: Sequence[str] = None) -> Dict[str, float]:
    """:func:`forgetting_table` as flat metrics: ``{key}_reference``,
    ``{key}_change`` and the rate, ``{prefix}/forgetting_rate`` (or
    ``{prefix}/{name}_forgetting_rate`` for a benchmark with two scores,
    MME).

    Args / Raises: as :func:`forgetting_table`.
    """
    out: Dict[str, float] = {}
    for row in forgetting_table(metrics, reference, keys):
        if row['drop'] is None:
            continue
        key, prefix = row['key'], row['benchmark']
        out[f'{key}_reference'] = row['reference']
        out[f'{key}_change'] = row['change']
        many = len(PRIMARY.get(prefix, DEFAULT_PRIMARY)) > 1
        name = key.split('/', 1)[1] + '_' if many else ''
        out[f'{prefix}/{name}forgetting_rate'] = row['drop']
    return out
