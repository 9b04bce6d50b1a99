"""Latency, tokens/s, memory and answer health of the inferencer on a folder.

Runs ``LlavaDetSegInferencer`` over the images of a folder (or over images
the shapes generator draws with a seed the model never trained on), cycling
through the given instructions, and reports per-image latency (heads +
answer), generated tokens per second, the process's resident memory after
each batch (flat over a long folder, or not) and, for every instruction that
asks for blocks, whether its answer holds them and parses.

Example:
    python tools/analysis_tools/benchmark_inference.py CONFIG CKPT \\
        --num-images 20 --seed 2027 --texts \\
        "Detect the circles and segment the triangles." \\
        "Detect the squares and segment the circles." --out report.json
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _bootstrap import ensure_package  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('model', help='config file or exported folder')
    parser.add_argument('weights', nargs='?', help='checkpoint (config)')
    parser.add_argument('--images', help='folder of images')
    parser.add_argument('--num-images', type=int, default=20,
                        help='without --images: draw this many shapes images')
    parser.add_argument('--seed', type=int, default=2027,
                        help='seed of the drawn images (not a training one)')
    parser.add_argument('--texts', nargs='+', default=[
        'Detect the circles and segment the triangles.',
        'Detect the squares and segment the circles.',
        'Detect the triangles and segment the squares.',
        'Detect all objects.', 'Segment all objects.'])
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--pred-score-thr', type=float, default=None)
    parser.add_argument('--max-new-tokens', type=int, default=None)
    parser.add_argument('--out', help='write the report (JSON) here')
    return parser.parse_args()


def rss_mib() -> float:
    import psutil
    return psutil.Process().memory_info().rss / 2**20


def main() -> int:
    args = parse_args()
    ensure_package()
    from llava_detseg.apis import LlavaDetSegInferencer
    folder = args.images
    if folder is None:
        from llava_detseg.datasets.generation import generate_shapes
        folder_root = tempfile.mkdtemp(prefix='bench_inference_')
        generate_shapes(folder_root, num_train=0, num_val=args.num_images,
                        seed=args.seed, progress=False)
        folder = osp.join(folder_root, 'images', 'val')
    files = sorted(osp.join(folder, f) for f in os.listdir(folder))
    inf = LlavaDetSegInferencer(args.model, args.weights, device=args.device,
                                show_progress=False)
    texts = [args.texts[i % len(args.texts)] for i in range(len(files))]
    inf(files[:1], texts=texts[:1])  # warm-up (lazy inits, allocator)
    rss, times, tokens, asked, healthy, problems = [], [], 0, 0, 0, {}
    total = 0.0
    start = rss_mib()
    for i in range(0, len(files), args.batch_size):
        t0 = time.perf_counter()
        preds = inf(files[i:i + args.batch_size],
                    texts=texts[i:i + args.batch_size],
                    pred_score_thr=args.pred_score_thr,
                    max_new_tokens=args.max_new_tokens)['predictions']
        total += time.perf_counter() - t0
        times.append((time.perf_counter() - t0) / len(preds))
        rss.append(rss_mib())
        for p in preds:
            tokens += p['num_tokens']
            if len(p['tasks']) and p['tasks'] != ['vqa']:
                asked += 1
                want = {f'<{t.upper()}>' for t in p['tasks']}
                ok = p['error'] is None and not p['problems'] and all(
                    w in p['text'] for w in want)
                healthy += int(ok)
            for k, v in p['problems'].items():
                problems[k] = problems.get(k, 0) + v
        print(f'[{i + len(preds)}/{len(files)}] {times[-1]:.2f} s/image, '
              f'rss {rss[-1]:.0f} MiB', flush=True)
    report = dict(
        images=len(files), batch_size=args.batch_size,
        latency_s_per_image=total / len(files),
        tokens_per_s=tokens / max(total, 1e-9),
        mean_tokens_per_answer=tokens / len(files),
        rss_mib_start=start, rss_mib_end=rss[-1], rss_mib_max=max(rss),
        rss_mib_growth_second_half=rss[-1] - rss[len(rss) // 2],
        block_requests=asked, block_requests_ok=healthy,
        problems=problems)
    print(json.dumps(report, indent=1))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
