"""Grow a trained checkpoint's vocabulary by the <DET>/<SEG>/<loc_i> tokens.

A model trained without ``language.special_tokens`` has ``embed_tokens`` and
``lm_head`` rows for the base vocabulary only; loading it into a model built
with ``special_tokens`` would skip both matrices (size mismatch) and leave
them random. This writes a copy whose two matrices have the new rows,
initialised like transformers' ``mean_resizing`` (mean of the old rows plus
noise of their standard deviation, so the new tokens start distinguishable),
with the same noise in the embedding and ``lm_head`` rows of each new token.

Example:
    python tools/model_converters/add_text_tokens.py \
        work_dirs/demo/epoch_7.pth data/checkpoints/llava-tiny \
        work_dirs/demo/epoch_7_text-tokens.pth
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _bootstrap import ensure_package  # noqa: E402

KEYS = ('language.llava.model.language_model.embed_tokens.weight',
        'language.llava.lm_head.weight')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='mmengine checkpoint (.pth)')
    parser.add_argument('tokenizer', help='tokenizer folder of the model')
    parser.add_argument('out', help='checkpoint to write')
    parser.add_argument('--num-bins', type=int, default=1000)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    ensure_package()
    import torch
    from transformers import AutoTokenizer

    from llava_detseg.models.language.special_tokens import add_detseg_tokens
    from llava_detseg.utils import (CheckpointLoadError, load_checkpoint_file,
                                    save_checkpoint_file)

    tok = AutoTokenizer.from_pretrained(args.tokenizer,
                                        trust_remote_code=False)
    add_detseg_tokens(tok, args.num_bins)
    size = len(tok)
    try:  # weights_only: a checkpoint is data, never code to run
        ckpt = load_checkpoint_file(args.checkpoint, map_location='cpu')
    except CheckpointLoadError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    sd = ckpt['state_dict']
    gen = torch.Generator().manual_seed(args.seed)
    noise = None
    for key in KEYS:
        if key not in sd:
            print(f'error: {args.checkpoint} has no {key}', file=sys.stderr)
            return 1
        w = sd[key]
        if w.shape[0] >= size:
            continue
        if noise is None:
            noise = torch.randn(size - w.shape[0], w.shape[1], generator=gen,
                                dtype=w.dtype)
        # the same noise in the input and output rows: the output row of a
        # new token starts aligned with its input row, so copying a
        # <loc_i> from the prompt into the answer is easy to learn
        sd[key] = torch.cat(
            [w, w.mean(0, keepdim=True) + w.std(0, keepdim=True) * noise])
        print(f'{key}: {tuple(w.shape)} -> {tuple(sd[key].shape)}')
    # the optimizer state belongs to the old shapes: start a new schedule
    for k in ('optimizer', 'param_schedulers', 'message_hub'):
        ckpt.pop(k, None)
    save_checkpoint_file(ckpt, args.out)  # never a half-written file
    return 0


if __name__ == '__main__':
    sys.exit(main())
