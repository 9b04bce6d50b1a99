"""Run a LLaVA-DetSeg model on images: mmdet's ``demo/image_demo.py`` flags.

``inputs`` is an image, a folder of images or a glob; ``--texts`` is one
instruction for every image or one per image (matched to the images in sorted
order). Every image gets ``OUT_DIR/preds/<stem>.json`` (boxes, masks, the
answer: the inference API's prediction dict) and ``OUT_DIR/vis/<stem>.png``.

Examples::

    python demo/image_demo.py data/shapes/images/val/000000.png \\
        configs/llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes.py \\
        --weights "$(cat work_dirs/demo/last_checkpoint)" \\
        --texts 'Detect the circles and segment the triangles.'
    python demo/image_demo.py 'data/shapes/images/val/00000*.png' \\
        work_dirs/merged_hf --texts 'How many circles are there?' --print-result
"""
import argparse
import glob
import os
import os.path as osp
import sys
from typing import List, Optional

import _common
from _common import add_generation_args, add_model_args, ensure_package

# the inferencer's (llava_detseg.apis.images.IMAGE_EXTENSIONS), without
# importing the package before the arguments are checked
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """mmdet's image_demo flags plus LLaVA's generation flags."""
    parser = argparse.ArgumentParser(
        description='LLaVA-DetSeg on images: answers, boxes and masks')
    parser.add_argument('inputs', help='an image, a folder of images or a '
                        'glob (quote it)')
    add_model_args(parser, device=None)
    parser.add_argument(
        '--texts', nargs='+', default=None,
        help='the instruction: one for all images, or one per image in sorted '
        'order (default: the inferencer\'s, "Detect all objects.")')
    parser.add_argument('--out-dir', default='outputs',
                        help='output folder (preds/ and vis/ inside)')
    parser.add_argument('--pred-score-thr', type=float, default=None,
                        help='box score threshold (default: the model\'s)')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='images per forward pass')
    parser.add_argument('--show', action='store_true',
                        help='display each drawing in a window')
    parser.add_argument('--no-save-vis', action='store_true',
                        help='do not write the drawings')
    parser.add_argument('--no-save-pred', action='store_true',
                        help='do not write the prediction JSON files')
    parser.add_argument('--print-result', action='store_true',
                        help='print each prediction')
    add_generation_args(parser)
    return parser.parse_args(argv)


def fail(msg: str, code: int = 2) -> None:
    """One line on stderr, then exit."""
    _common.fail('image_demo.py', msg, code)


def is_image(path: str) -> bool:
    return osp.isfile(path) and path.lower().endswith(IMG_EXTENSIONS)


def expand_inputs(inputs: str) -> List[str]:
    """The images an input names, sorted; exits with one line if none."""
    if osp.isdir(inputs):
        files = sorted(
            osp.join(inputs, f) for f in os.listdir(inputs)
            if is_image(osp.join(inputs, f)))
        if not files:
            fail(f'{inputs}: no images ({", ".join(IMG_EXTENSIONS)}) in '
                 'this folder')
        return files
    if osp.isfile(inputs):
        return [inputs]
    if glob.has_magic(inputs):
        files = sorted(f for f in glob.glob(inputs) if is_image(f))
        if not files:
            fail(f'{inputs}: the pattern matches no image')
        return files
    fail(f'{inputs}: no such image, folder or pattern')


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if not osp.exists(args.model):
        fail(f'{args.model}: no such config file or model folder')
    if args.weights and not osp.isfile(args.weights):
        fail(f'{args.weights}: no such checkpoint')
    if args.batch_size < 1:
        fail(f'--batch-size {args.batch_size}: must be at least 1')
    images = expand_inputs(args.inputs)
    texts = args.texts
    if texts is not None and len(texts) not in (1, len(images)):
        fail(f'--texts: {len(texts)} instructions for {len(images)} images; '
             'give one for all or one per image')

    ensure_package()
    import torch
    from llava_detseg.apis import LlavaDetSegInferencer
    device = args.device or ('cuda:0' if torch.cuda.is_available() else 'cpu')
    try:
        inferencer = LlavaDetSegInferencer(
            model=args.model, weights=args.weights, device=device,
            load_4bit=args.load_4bit, load_8bit=args.load_8bit,
            show_progress=True)
    except Exception as e:
        fail(f'cannot load the model from {args.model}: '
             f'{type(e).__name__}: {e}', code=1)
    if texts is not None:
        texts = texts[0] if len(texts) == 1 else list(texts)
    out = inferencer(
        images, texts=texts,
        batch_size=args.batch_size, out_dir=args.out_dir,
        pred_score_thr=args.pred_score_thr, show=args.show,
        no_save_vis=args.no_save_vis, no_save_pred=args.no_save_pred,
        print_result=args.print_result, max_new_tokens=args.max_new_tokens,
        temperature=args.temperature, top_p=args.top_p)
    preds = out['predictions']

    failed = [p for p in preds if p.get('error')]
    for p in failed:
        print(f'{p.get("image")}: {p["error"]}', file=sys.stderr)
    written = []
    if not args.no_save_pred:
        written.append(f'predictions in {osp.join(args.out_dir, "preds")}')
    if not args.no_save_vis:
        written.append(f'drawings in {osp.join(args.out_dir, "vis")}')
    print(f'{len(preds) - len(failed)} of {len(preds)} images done'
          + (': ' + ', '.join(written) if written else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
