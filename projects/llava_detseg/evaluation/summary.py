"""One table of every metric of a test run (``tools/test.py``)."""
from typing import Dict, List, Optional, Sequence

# Reporting order and titles of the metric groups (by key prefix); others
# (the VQA benchmarks) follow under their own names.
GROUPS = (('coco', 'detection head'), ('seg', 'segmentation head'),
          ('text', 'text answers (<DET>/<SEG>)'), ('vqa', 'VQA'),
          ('conv', 'free-form conversations'),
          ('accuracy', 'classification (cls)'),
          ('retrieval', 'image-text retrieval (itc)'))


def _fmt(value) -> str:
    """Floats to 4 places; counts, flags and the rest as they are."""
    return f'{value:.4f}' if isinstance(value, float) else str(value)


def summary_lines(metrics: Dict[str, object],
                  forgetting: Optional[Sequence[dict]] = None) -> List[str]:
    """The metrics grouped by prefix, one per line, then the forgetting
    table (reference, current, change, relative drop per benchmark score)
    when a reference was given."""
    groups: Dict[str, List[str]] = {}
    for key in metrics:
        prefix = key.split('/', 1)[0] if '/' in key else ''
        groups.setdefault(prefix, []).append(key)
    titles = dict(GROUPS)
    order = [p for p, _ in GROUPS if p in groups] + [
        p for p in groups if p not in titles]
    width = max([len(k) for k in metrics] + [10])
    lines = ['Test metrics:']
    for prefix in order:
        title = titles.get(prefix, f'benchmark {prefix}' if prefix else
                           'other')
        lines.append(f'  {title}')
        # "key: value", the form scripts grep for
        lines += [f'    {k}: {_fmt(metrics[k])}' for k in groups[prefix]]
    if forgetting:
        lines.append('  forgetting against the reference '
                     '(drop = share of the reference score lost)')
        lines.append(f'    {"score":<{width}}  {"reference":>10}  '
                     f'{"current":>10}  {"change":>10}  {"drop":>8}')
        for row in forgetting:
            cells = [_cell(row['reference']), _cell(row['current']),
                     _cell(row['change'])]
            drop = ('not on both sides' if row['drop'] is None else
                    f'{100 * row["drop"]:7.2f}%')
            lines.append(f'    {row["key"]:<{width}}  ' +
                         '  '.join(f'{c:>10}' for c in cells) +
                         f'  {drop:>8}')
    return lines


def _cell(value) -> str:
    return '-' if value is None else f'{value:.4f}'
