"""Write the tiny random-initialised CLIP and LLaVA checkpoint folders.

They stand in for ``openai/clip-vit-large-patch14-336`` and
``llava-hf/llava-1.5-7b-hf`` where nothing can be downloaded; the model
loads them through the same ``from_pretrained`` path. ``--widths full``
writes the real widths instead (ViT-L/14-336, a 4096-wide decoder cut to
``--text-layers`` layers, the SentencePiece tokenizer): about 3.3 GB for the
full-width twin config.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _bootstrap import ensure_package  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out-dir', default='data/checkpoints',
                        help='parent folder of clip-vit-tiny/ and '
                        'llava-tiny/')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--tokenizer', choices=('bpe', 'llama'),
                        default='bpe', help='byte-level BPE (llava-tiny/) or '
                        'a SentencePiece LLaMA tokenizer in Vicuna\'s layout '
                        '(llava-tiny-llama/)')
    parser.add_argument('--widths', choices=('tiny', 'full'), default='tiny',
                        help='tiny widths, or the real ones (always with the '
                        'llama tokenizer)')
    parser.add_argument('--text-layers', type=int, default=None,
                        help='decoder layers (default 2 at both widths); a '
                        'tiny checkpoint with another count goes to '
                        'llava-tiny[-llama]-<N>layers/, beside the default')
    parser.add_argument('--force', action='store_true',
                        help='rewrite folders that exist')
    args = parser.parse_args()
    if args.text_layers is not None and args.text_layers < 1:
        parser.error(f'--text-layers must be >= 1, got {args.text_layers}')
    ensure_package()
    from llava_detseg.models.language import (write_full_width_checkpoints,
                                              write_tiny_checkpoints)
    if args.widths == 'full':
        paths = write_full_width_checkpoints(
            args.out_dir, num_text_layers=args.text_layers or 2,
            seed=args.seed, force=args.force)
    else:
        text = names = None
        if args.text_layers not in (None, 2):
            # e.g. configs/ablations/vqa/vqa-context_llm-4layers.py
            text = dict(num_hidden_layers=args.text_layers)
            llava = 'llava-tiny' if args.tokenizer == 'bpe' else \
                'llava-tiny-llama'
            names = dict(clip='clip-vit-tiny',
                         llava=f'{llava}-{args.text_layers}layers')
        paths = write_tiny_checkpoints(args.out_dir, seed=args.seed,
                                       force=args.force,
                                       tokenizer=args.tokenizer, text=text,
                                       names=names)
    for name, path in paths.items():
        print(f'{name}: {path}')


if __name__ == '__main__':
    main()
