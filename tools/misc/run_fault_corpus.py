"""Run tools/test.py and a two-iteration tools/train.py on every fault case.

The corpus comes from ``make_fault_corpus.py``. Every case is run through
the tools' own ``main()`` with their command line, in this one process
(each tool in a fresh interpreter would cost ~10 s of imports per run; the
tools keep no state between runs but their loggers, named per run here).
A run's outcome is read as a user would read it:

* ``error``: exit code 1, no traceback, exactly one ``error:`` line on
  stderr, the last one, naming the faulty file;
* ``skip``: exit code 0, no traceback, a ``skipped`` log line naming it;
* ``ok``: exit code 0 and nothing skipped (the base dataset);
* ``traceback``: an exception left the tool, or one was printed;
* ``silent``: exit code 0, nothing said: an invalid dataset accepted;
* ``wrong``: anything else (another exit code, another file named...).

Example:
    python tools/misc/make_fault_corpus.py work_dirs/fault_corpus
    python tools/misc/run_fault_corpus.py work_dirs/fault_corpus \\
        configs/llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes.py \\
        CHECKPOINT
"""
import argparse
import contextlib
import importlib.util
import io
import json
import os.path as osp
import re
import sys
import time
import traceback
from typing import Dict, List, Optional

TOOLS = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, TOOLS)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from make_fault_corpus import ANN, CONV, Case, build_corpus  # noqa: E402

# what ErrorPolicy logs for each skip: "<owner>: skipped <what>: <error>"
SKIP_LINE = re.compile(r': skipped [\w ]+: .*field "')


@contextlib.contextmanager
def unformatted_configs():
    """Print configs without yapf while the corpus runs.

    mmengine pretty-prints the config with yapf five times per run (log,
    dump, message hub...): about 1.3 s each, most of a run that stops at
    its data. The text stays valid Python, only its layout differs.
    """
    import mmengine.config.config as config_module
    original = config_module.FormatCode
    config_module.FormatCode = lambda text, **kwargs: (text, False)
    try:
        yield
    finally:
        config_module.FormatCode = original


def corpus_config(config: str, out: str, mode: str) -> str:
    """``config`` pointed at a corpus layout (data_root set per run), with
    batch 2, one epoch (2 iterations on 4 images), no validation and no
    checkpoint; the training's ``on_error`` is ``mode``. Returns its path."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    for split in ('train', 'test'):
        loader = cfg[f'{split}_dataloader']
        ds = loader.dataset
        ds.update(ann_file=ANN, conv_file=CONV,
                  data_prefix=dict(img='images/', seg='semantic/'))
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        on_error = mode if split == 'train' else 'raise'
        ds.on_error = on_error
        for step in ds.pipeline:
            if step['type'] in ('LoadImageWithCheck', 'CheckSemanticMap'):
                step['on_error'] = on_error
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1,
                         val_interval=100)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger.interval = 1
    path = osp.join(out, f'corpus_{mode}.py')
    cfg.dump(path)
    return path


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(
        f'llava_detseg_tool_{name}', osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(module, argv: List[str]) -> dict:
    """``module.main()`` with ``argv``; its exit code, output, exception."""
    out, err = io.StringIO(), io.StringIO()
    old_argv = sys.argv
    sys.argv = [module.__file__] + argv
    rc, exc = None, None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = module.main()
            except SystemExit as e:  # argparse and the like
                rc = e.code if isinstance(e.code, int) else 1
            except Exception:  # noqa: BLE001 - the outcome being tested
                exc = traceback.format_exc()
    finally:
        sys.argv = old_argv
    return dict(rc=rc, stdout=out.getvalue(), stderr=err.getvalue(),
                exception=exc)


def outcome(run: dict, names: str) -> str:
    """What a user saw (see the module docstring)."""
    err = run['stderr']
    if run['exception'] or 'Traceback' in err or 'Traceback' in run['stdout']:
        return 'traceback'
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith('error: ')]
    if run['rc'] == 1:
        if len(errors) == 1 and lines[-1] == errors[0] and names in errors[0]:
            return 'error'
        return 'wrong'
    if run['rc'] != 0:
        return 'wrong'
    skips = [line for line in run['stdout'].splitlines()
             if SKIP_LINE.search(line)]
    if skips:
        return 'skip' if any(names in line for line in skips) else 'wrong'
    return 'ok'


def run_corpus(corpus: str, config: str, checkpoint: str,
               cases: List[Case], tools=('test', 'train'),
               log: Optional[callable] = print) -> List[dict]:
    """Run ``tools`` on every case; one record per (case, tool)."""
    with unformatted_configs():
        return _run_corpus(corpus, config, checkpoint, cases, tools, log)


def _run_corpus(corpus, config, checkpoint, cases, tools, log) -> List[dict]:
    configs = {m: corpus_config(config, corpus, m) for m in ('raise', 'skip')}
    modules = {t: _load_tool(t) for t in tools}
    records = []
    for case in cases + [Case('base', 'none', None, '', 'raise', 'ok', 'ok')]:
        root = osp.join(corpus, case.name) + '/'
        for tool in tools:
            work = osp.join(corpus, 'work', case.name, tool)
            opts = [
                f'train_dataloader.dataset.data_root={root}',
                f'test_dataloader.dataset.data_root={root}',
                f'test_evaluator.0.metric.ann_file={root}{ANN}',
                f'experiment_name={case.name}_{tool}'
            ] + list(case.options)
            argv = [configs[case.mode if tool == 'train' else 'raise']]
            argv += [checkpoint] if tool == 'test' else []
            argv += ['--work-dir', work, '--cfg-options'] + opts
            start = time.time()
            run = run_tool(modules[tool], argv)
            got = outcome(run, case.names)
            want = getattr(case, tool)
            rec = dict(case=case.name, kind=case.kind, tool=tool, want=want,
                       got=got, seconds=round(time.time() - start, 2),
                       line=(run['stderr'].strip().splitlines() or [''])[-1],
                       exception=run['exception'])
            records.append(rec)
            if log is not None:
                log(f'{case.name:40s} {tool:5s} want {want:5s} got {got:9s} '
                    f'{rec["seconds"]:5.1f}s  {rec["line"][:150]}')
    return records


def summary(records: List[dict]) -> Dict[str, Dict[str, int]]:
    """``{tool: {outcome: count}}``."""
    counts: Dict[str, Dict[str, int]] = {}
    for r in records:
        per = counts.setdefault(r['tool'], {})
        per[r['got']] = per.get(r['got'], 0) + 1
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description='Build the fault corpus and run the tools on it')
    parser.add_argument('corpus', help='folder for the corpus and the runs')
    parser.add_argument('config', help='a config on the shapes classes '
                        '(the embedded default or its test twin)')
    parser.add_argument('checkpoint', help='weights for tools/test.py')
    parser.add_argument('--only', nargs='+', help='case names to run')
    parser.add_argument('--tools', nargs='+', default=['test', 'train'],
                        choices=['test', 'train'])
    args = parser.parse_args(argv)
    cases = build_corpus(args.corpus)
    if args.only:
        cases = [c for c in cases if c.name in args.only]
    records = run_corpus(args.corpus, args.config, args.checkpoint, cases,
                         tuple(args.tools))
    with open(osp.join(args.corpus, 'outcomes.json'), 'w') as f:
        json.dump(records, f, indent=1)
    bad = [r for r in records if r['got'] != r['want']]
    print(f'{len(cases)} cases + the base, {len(records)} runs: '
          + '; '.join(f'{t}: ' + ', '.join(f'{n} {o}' for o, n in
                                            sorted(c.items()))
                      for t, c in summary(records).items())
          + f'; {len(bad)} not as expected')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
