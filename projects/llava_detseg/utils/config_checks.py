"""Feature combinations that cannot run right, refused before a run starts.

Each check reads the resolved config and raises a one-line
``RunnerConfigError`` naming the config keys, where the run would otherwise
train wrong (ranks silently out of sync) or fail late (a DDP hang, a crash
inside a wrapper). ``build_runner`` calls :func:`check_combinations`, so
``tools/train.py`` and ``tools/test.py`` both print the line and exit.
"""
import os
import os.path as osp
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


def _codec_args(codec) -> dict:
    """``DetSegTextCodec`` arguments with its defaults filled in."""
    import inspect

    from llava_detseg.structures import DetSegTextCodec
    params = inspect.signature(DetSegTextCodec.__init__).parameters
    out = {k: p.default for k, p in params.items()
           if p.default is not inspect.Parameter.empty
           and k not in ('seg_classes', )}
    out.update(dict(codec or {}))
    return out


def _pipelines(node, path: str) -> Iterator[Tuple[str, list]]:
    """Every ``pipeline`` list under a dataloader's dataset (mixtures and
    wrappers included), with its config path."""
    if isinstance(node, dict):
        for key, value in node.items():
            where = f'{path}.{key}'
            if key == 'pipeline' and isinstance(value, (list, tuple)):
                yield where, list(value)
            else:
                yield from _pipelines(value, where)
    elif isinstance(node, (list, tuple)):
        for k, value in enumerate(node):
            yield from _pipelines(value, f'{path}[{k}]')


def check_text_format(cfg, where: str) -> None:
    """The text format's settings agree where a config must repeat them.

    The model writes and reads answers with ``text_cfg``'s codec; each
    ``TextDetSegMetric`` parses them with its own codec (the classes come
    from the dataset meta), which must be the model's; the number of
    location bins must be the same in the language branch's tokens, the
    model, every ``GenerateTextInstructions`` and every metric. The
    pipelines' other codec settings may differ per source on purpose (a
    detection-only source needs no polygon settings).
    """
    from .runner import RunnerConfigError
    model = cfg.get('model') or {}
    text_cfg = model.get('text_cfg')
    if not text_cfg:
        return
    codec = _codec_args(text_cfg.get('codec'))
    bins = [('model.text_cfg.codec', codec['num_bins'])]
    tokens = ((model.get('language') or {}).get('special_tokens') or {})
    if 'num_bins' in tokens:
        bins.append(('model.language.special_tokens', tokens['num_bins']))
    for name, loader in _loaders(cfg):
        for path, pipeline in _pipelines(loader.get('dataset'),
                                         f'{name}.dataset'):
            for k, t in enumerate(pipeline):
                if isinstance(t, dict) and _short(t.get('type', '')) == \
                        'GenerateTextInstructions':
                    bins.append((f'{path}[{k}].codec',
                                 _codec_args(t.get('codec'))['num_bins']))
    for name in ('val_evaluator', 'test_evaluator'):
        evaluators = cfg.get(name) or []
        for k, ev in enumerate([evaluators] if isinstance(
                evaluators, dict) else evaluators):
            if not isinstance(ev, dict) or _short(
                    ev.get('type', '')) != 'TextDetSegMetric':
                continue
            theirs = _codec_args(ev.get('codec'))
            diff = sorted(key for key in set(codec) | set(theirs)
                          if codec.get(key) != theirs.get(key))
            if diff:
                key = diff[0]
                raise RunnerConfigError(
                    f'{where}: {name}[{k}].codec.{key}={theirs.get(key)!r} '
                    f'differs from model.text_cfg.codec.{key}='
                    f'{codec.get(key)!r}; the metric must read the answers '
                    'as the model writes them: set both from one variable')
    for path, n in bins[1:]:
        if n != bins[0][1]:
            raise RunnerConfigError(
                f'{where}: {path} num_bins={n} differs from '
                f'{bins[0][0]} num_bins={bins[0][1]}; state it once')


def _ann_files(node, path: str) -> Iterator[Tuple[str, str]]:
    """(config path, value) of every ``ann_file`` under an evaluator."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'ann_file' and isinstance(value, str):
                yield f'{path}.{key}', value
            else:
                yield from _ann_files(value, f'{path}.{key}')
    elif isinstance(node, (list, tuple)):
        for k, value in enumerate(node):
            yield from _ann_files(value, f'{path}.{k}')


def check_ann_files(cfg, where: str) -> None:
    """Refuse a metric whose relative ``ann_file`` is not under the
    ``data_root`` of the loader it scores (``val_`` / ``test_``), e.g. after
    ``--cfg-options test_dataloader.dataset.data_root=data/other/`` alone:
    the images would be scored against another split's annotations."""
    from .runner import RunnerConfigError
    for split in ('val', 'test'):
        dataset = (cfg.get(f'{split}_dataloader') or {}).get('dataset') or {}
        root = dataset.get('data_root') if isinstance(dataset, dict) \
            else None
        if not root:
            continue  # a mixture: each part names its own files
        for path, ann in _ann_files(cfg.get(f'{split}_evaluator'),
                                    f'{split}_evaluator'):
            if osp.isabs(ann) or '://' in ann:
                continue
            if not osp.normpath(ann).startswith(osp.normpath(root) + os.sep):
                raise RunnerConfigError(
                    f'{where}: {path}={ann!r} is not under {split}_dataloader'
                    f'.dataset.data_root={root!r}: the metric would score '
                    'these images against another split\'s annotations; '
                    f'set it too (--cfg-options {path}=...)')


def check_combinations(cfg) -> None:
    """Raise ``RunnerConfigError`` for a combination that cannot run right.

    * a per-task-gradient optimiser wrapper (PCGrad, GradNorm) with a
      distributed launcher: its ``autograd.grad`` calls bypass DDP's
      all-reduce, so the ranks' weights drift apart;
    * PCGrad / GradNorm under a sharded engine (``strategy``), and an FSDP
      ``auto_wrap_policy`` (the model is one FSDP unit: generation on one
      rank never waits for another's, ``generate(synced_gpus=False)``);
    * ``MixtureSampler.batch_size`` different from its loader's
      ``batch_size``: every rank must draw whole batches from one source,
      or the ranks wait on each other forever;
    * ``TextDetSegMetric.head_score_thr`` different from the model's
      ``text_cfg.context_score_thr``: the metric would score the copied
      boxes against another set of head boxes than the ones offered (left
      out of the metric's config, it is derived from the model's here);
    * a text metric's codec other than the model's, or location bins that
      differ between the tokens, the model, a pipeline and a metric
      (:func:`check_text_format`): answers written one way, read another;
    * a metric's relative ``ann_file`` outside its loader's
      ``dataset.data_root`` (:func:`check_ann_files`): a data root changed
      with ``--cfg-options`` would be scored against the old root's boxes.

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
    strategy = cfg.get('strategy') or {}
    if kind in PER_TASK_GRAD_WRAPPERS and strategy:
        raise RunnerConfigError(
            f'{where}: optim_wrapper.type="{kind}" with strategy.type='
            f'"{strategy.get("type")}": per-task torch.autograd.grad calls '
            'bypass the sharded gradient reduction; use the summed loss')
    wrap = (strategy.get('model_wrapper') or {}).get('auto_wrap_policy')
    if 'FSDPStrategy' in str(strategy.get('type', '')) and wrap is not None:
        raise RunnerConfigError(
            f'{where}: strategy.model_wrapper.auto_wrap_policy is set: the '
            'model must be one FSDP unit, as ranks run different heads per '
            'step and answer different questions at validation (nested '
            'units would wait on each other\'s gathers)')
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
    check_text_format(cfg, where)
    check_ann_files(cfg, where)
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
            thr = ev.get('head_score_thr')
            if thr is None and context is not None:
                # not stated: derived from the model's, the one setting
                ev['head_score_thr'] = context
                continue
            if context is not None and thr != context:
                raise RunnerConfigError(
                    f'{where}: {name}[{k}].head_score_thr={thr} differs '
                    f'from model.text_cfg.context_score_thr={context}; set '
                    'both from one variable (the metric scores the boxes the '
                    'context offered)')
