"""Parity benchmark: one shared backbone pass against single-task passes,
and the text path's cost per answer with and without constrained decoding.

The design runs the backbone once per image for every task it is asked
(DESIGN.md). This tool measures what that saves on the same model and the
same images: the time and FLOPs of one pass that serves detection,
segmentation and VQA together against three passes that each serve one
task (each sample's ``tasks`` set to that one), in prediction and in
training (loss forward + backward), and checks that the outputs agree
(boxes, masks, answers, losses). With a text config (``text_cfg``) it also
reports, per ``<DET>``/``<SEG>`` text answer, the time, FLOPs and tokens of
constrained decoding (the config's ``constrain``) and of free greedy
decoding (``constrain=None``).

Example:
    python tools/analysis_tools/parity_benchmark.py CONFIG CKPT \
        --batches 2 --batch-size 8 --out-json work_dirs/parity.json
"""
import argparse
import copy
import json
import os.path as osp
import sys
import time
from typing import Callable, Dict, List, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _bootstrap import ensure_package  # noqa: E402
from benchmark import add_run_args, load_run_config  # noqa: E402

MODES = ('predict', 'train')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', help='weights (optional)')
    parser.add_argument(
        '--batches', type=int, default=2, help='test batches measured')
    parser.add_argument(
        '--batch-size',
        type=int,
        help='override the '
        "test dataloader's batch size")
    parser.add_argument(
        '--repeats',
        type=int,
        default=2,
        help='timed repeats (the best is kept)')
    parser.add_argument(
        '--modes', nargs='+', default=list(MODES), choices=MODES)
    parser.add_argument(
        '--skip-text', action='store_true', help='no text-answer measurement')
    add_run_args(parser)
    args = parser.parse_args(argv)
    if args.batches < 1 or args.repeats < 1:
        parser.error('--batches and --repeats must be >= 1')
    return args


def with_tasks(batch: dict, tasks: Sequence[str], text: bool = False) -> dict:
    """A copy of ``batch`` whose samples ask for ``tasks`` only (and keep
    their text instructions only if ``text``)."""
    out = copy.deepcopy(batch)
    for sample in out['data_samples']:
        sample.set_metainfo(dict(tasks=tuple(tasks)))
        if not text and 'text_conversations' in sample.metainfo:
            sample.set_metainfo(dict(text_conversations=[]))
    return out


def timed(fn: Callable[[], object],
          repeats: int,
          clock: Callable[[], float] = time.perf_counter) -> Dict[str, float]:
    """Best time of ``fn`` over ``repeats``, its FLOPs, its result."""
    from compute_profile import count_flops
    result, flops = count_flops(fn)
    best = float('inf')
    for _ in range(repeats):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return dict(time_s=best, flops=flops, result=result)


def _predict(model, batches: List[dict]) -> Callable:
    import torch

    def run():
        with torch.no_grad():
            return [model.test_step(copy.deepcopy(b)) for b in batches]

    return run


def _train(model, batches: List[dict]) -> Callable:
    """Loss forward + backward (no optimizer step: the weights stay)."""

    def run():
        out = []
        for b in batches:
            data = model.data_preprocessor(copy.deepcopy(b), True)
            losses = model(**data, mode='loss')
            total, log_vars = model.parse_losses(losses)
            total.backward()
            model.zero_grad(set_to_none=True)
            out.append({k: float(v) for k, v in log_vars.items()})  # noqa
        return out

    return run


def agreement(mode: str, shared: list, singles: Dict[str, list]) -> dict:
    """How far the single-task outputs are from the shared pass's."""
    import torch
    if mode == 'train':
        diff = 0.0
        for task, runs in singles.items():
            for got, ref in zip(runs, shared):
                for key, value in got.items():
                    if key.startswith(task + '.'):
                        diff = max(diff, abs(value - ref[key]))
        return dict(max_loss_diff=diff)
    box_diff, masks_equal, answers_equal = 0.0, True, True
    for b, ref_batch in enumerate(shared):
        for i, ref in enumerate(ref_batch):
            if 'det' in singles:
                got = singles['det'][b][i].pred_instances.bboxes
                want = ref.pred_instances.bboxes
                box_diff = max(
                    box_diff,
                    float('inf') if got.shape != want.shape else float(
                        (got - want).abs().max()) if got.numel() else 0.0)
            if 'seg' in singles:
                masks_equal &= torch.equal(
                    singles['seg'][b][i].pred_sem_seg.data,
                    ref.pred_sem_seg.data)
            if 'vqa' in singles:
                answers_equal &= list(singles['vqa'][b][i].get(
                    'pred_answers', [])) == list(ref.get('pred_answers', []))
    return dict(
        max_box_diff=box_diff,
        masks_equal=bool(masks_equal),
        answers_equal=bool(answers_equal))


def shared_vs_single(model,
                     batches: List[dict],
                     mode: str,
                     repeats: int,
                     clock: Callable[[], float] = time.perf_counter) -> dict:
    """Shared pass vs one pass per task: time, FLOPs, agreement."""
    run = _predict if mode == 'predict' else _train
    if mode == 'train':
        model.train()
    else:
        model.eval()
    tasks = model.tasks
    shared = timed(
        run(model, [with_tasks(b, tasks) for b in batches]), repeats, clock)
    singles = {
        t:
        timed(
            run(model, [with_tasks(b, (t, ))
                        for b in batches]), repeats, clock)
        for t in tasks
    }
    images = sum(len(b['data_samples']) for b in batches)
    out = dict(
        images=images,
        shared=dict(time_s=shared['time_s'], flops=shared['flops']),
        single={
            t: dict(time_s=r['time_s'], flops=r['flops'])
            for t, r in singles.items()
        })
    out['single_total'] = dict(
        time_s=sum(r['time_s'] for r in singles.values()),
        flops=sum(r['flops'] for r in singles.values()))
    out['saving'] = dict(
        time=1 - out['shared']['time_s'] / out['single_total']['time_s'],
        flops=1 -
        out['shared']['flops'] / max(out['single_total']['flops'], 1))
    out['agreement'] = agreement(mode, shared['result'], {
        t: r['result']
        for t, r in singles.items()
    })
    return out


def text_cost(model,
              batches: List[dict],
              repeats: int,
              clock: Callable[[], float] = time.perf_counter) -> dict:
    """Per text answer: time, FLOPs and tokens, constrained and free."""
    model.eval()
    only_text = [with_tasks(b, (), text=True) for b in batches]
    configured = model.text.constrain
    out = {}
    try:
        for name, level in ((f'constrained ({configured})', configured),
                            ('free greedy', None)):
            model.text.constrain = level
            r = timed(_predict(model, only_text), repeats, clock)
            responses = [
                resp for batch in r['result'] for s in batch
                for resp in s.get('responses', []) if resp.request.wants_blocks
            ]
            n = max(len(responses), 1)
            out[name] = dict(
                answers=len(responses),
                time_per_answer_s=r['time_s'] / n,
                flops_per_answer=r['flops'] / n,
                tokens_per_answer=sum(x.num_tokens for x in responses) / n,
                truncated=sum(bool(x.truncated) for x in responses) / n)
    finally:
        model.text.constrain = configured
    return out


def main(argv=None) -> dict:
    args = parse_args(argv)
    ensure_package()
    from benchmark import build
    from compute_profile import CLOCKS
    from mmengine.runner import Runner
    cfg = load_run_config(args)
    clock = CLOCKS[args.clock]
    model, _ = build(cfg, args.checkpoint)

    def batches_of(split: str) -> List[dict]:
        """The first ``--batches`` batches of a split (the training
        pipeline's labels for the losses, the test one's for prediction)."""
        key = f'{split}_dataloader'
        if key not in cfg:
            raise KeyError(f'{args.config} has no {key} to measure on')
        loader_cfg = copy.deepcopy(cfg[key])
        if args.batch_size:
            loader_cfg.batch_size = args.batch_size
        loader = iter(Runner.build_dataloader(loader_cfg, seed=0))
        return [next(loader) for _ in range(args.batches)]

    results = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        threads=args.threads,
        clock=args.clock)
    test_batches = batches_of('test')
    for mode in args.modes:
        batches = test_batches if mode == 'predict' else batches_of('train')
        res = shared_vs_single(model, batches, mode, args.repeats, clock)
        results[mode] = res
        print(f'{mode}, {res["images"]} images: shared pass '
              f'{res["shared"]["time_s"]:.2f} s / '
              f'{res["shared"]["flops"] / 1e9:.1f} GFLOP; single-task '
              'passes ' + ', '.join(
                  f'{t} {r["time_s"]:.2f} s / {r["flops"] / 1e9:.1f} GFLOP'
                  for t, r in res['single'].items()) +
              f' (sum {res["single_total"]["time_s"]:.2f} s / '
              f'{res["single_total"]["flops"] / 1e9:.1f} GFLOP); the shared '
              f'pass saves {res["saving"]["time"]:.0%} of the time, '
              f'{res["saving"]["flops"]:.0%} of the FLOPs; agreement '
              f'{res["agreement"]}')
    if getattr(model, 'text', None) is not None and not args.skip_text:
        results['text'] = text_cost(model, test_batches, args.repeats, clock)
        for name, r in results['text'].items():
            print(f'text answers, {name}: {r["answers"]} answers, '
                  f'{r["time_per_answer_s"] * 1e3:.0f} ms, '
                  f'{r["flops_per_answer"] / 1e9:.2f} GFLOP, '
                  f'{r["tokens_per_answer"]:.1f} tokens per answer '
                  f'({r["truncated"]:.0%} hit max_new_tokens)')
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    main()
