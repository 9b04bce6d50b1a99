"""Feature combinations that cannot run right, refused before a run starts.

Each check reads the resolved config and raises a one-line
``RunnerConfigError`` naming the config keys, where the run would otherwise
train wrong (ranks silently out of sync) or fail late (a DDP hang, a crash
inside a wrapper). ``build_runner`` calls :func:`check_combinations`, so
``tools/train.py`` and ``tools/test.py`` both print the line and exit.
"""
from typing import Iterator, Tuple

# optimiser wrappers that back-propagate each task with torch.autograd.grad:
# DDP's gradient hooks never fire for it, so ranks would not all-reduce
PER_TASK_GRAD_WRAPPERS = ('PCGradOptimWrapper', 'GradNormOptimWrapper')


def _short(type_name) -> str:
    return str(type_name).split('.')[-1]


def _loaders(cfg) -> Iterator[Tuple[str, dict]]:
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        if isinstance(loader, dict):
            yield name, loader


def check_combinations(cfg) -> None:
    """Raise ``RunnerConfigError`` for a combination that cannot run right.

    * a per-task-gradient optimiser wrapper (PCGrad, GradNorm) with a
      distributed launcher: its ``autograd.grad`` calls bypass DDP's
      all-reduce, so the ranks' weights drift apart;
    * ``MixtureSampler.batch_size`` different from its loader's
      ``batch_size``: every rank must draw whole batches from one source,
      or the ranks wait on each other forever;
    * ``TextDetSegMetric.head_score_thr`` different from the model's
      ``text_cfg.context_score_thr``: the metric would score the copied
      boxes against another set of head boxes than the ones offered.

    Args:
        cfg (Config): The run's resolved config.
    """
    from .runner import RunnerConfigError
    where = getattr(cfg, 'filename', None) or 'the config'
    wrapper = cfg.get('optim_wrapper') or {}
    kind = _short(wrapper.get('type', 'OptimWrapper'))
    launcher = cfg.get('launcher', 'none')
    if kind in PER_TASK_GRAD_WRAPPERS and launcher != 'none':
        raise RunnerConfigError(
            f'{where}: optim_wrapper.type="{kind}" with launcher="{launcher}":'
            ' its per-task torch.autograd.grad calls bypass DDP\'s gradient '
            'all-reduce, so the ranks would drift apart; train it in one '
            'process (launcher="none") or use the summed loss')
    for name, loader in _loaders(cfg):
        sampler = loader.get('sampler') or {}
        if _short(sampler.get('type', '')) != 'MixtureSampler':
            continue
        sb, lb = sampler.get('batch_size'), loader.get('batch_size')
        if sb is not None and lb is not None and sb != lb:
            raise RunnerConfigError(
                f'{where}: {name}.sampler.batch_size={sb} differs from '
                f'{name}.batch_size={lb}; MixtureSampler draws whole batches '
                'from one source and needs the loader\'s batch size (under '
                'DDP a mismatch hangs the ranks)')
    text_cfg = (cfg.get('model') or {}).get('text_cfg') or {}
    context = text_cfg.get('context_score_thr')
    for name in ('val_evaluator', 'test_evaluator'):
        evaluators = cfg.get(name) or []
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
        for k, ev in enumerate(evaluators):
            if not isinstance(ev, dict) or _short(
                    ev.get('type', '')) != 'TextDetSegMetric':
                continue
            thr = ev.get('head_score_thr', 0.3)
            if context is not None and thr != context:
                raise RunnerConfigError(
                    f'{where}: {name}[{k}].head_score_thr={thr} differs '
                    f'from model.text_cfg.context_score_thr={context}; set '
                    'both from one variable (the metric scores the boxes the '
                    'context offered)')
