"""Write a small LLaMA-family (SentencePiece BPE) tokenizer folder.

It stands in for ``lmsys/vicuna-7b-v1.5``'s tokenizer where nothing can be
downloaded: the same kind of model (BPE with byte fallback, split digits,
``<unk> <s> </s>`` at ids 0-2, no pad) in the same files
(``tokenizer.model``, ``tokenizer_config.json``, ``special_tokens_map.json``),
trained in a second on text the project generates. Load it with
``LlamaTokenizer.from_pretrained(out_dir)``.

Example:
    python tools/model_converters/make_llama_tokenizer.py \
        --out-dir data/checkpoints/llama-tokenizer-tiny
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _bootstrap import ensure_package  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--out-dir',
        default='data/checkpoints/'
        'llama-tokenizer-tiny',
        help='tokenizer folder')
    parser.add_argument('--vocab-size', type=int, default=1024)
    parser.add_argument(
        '--num-images',
        type=int,
        default=48,
        help='generated shapes images the corpus describes')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--legacy',
        action='store_true',
        help='transformers\' legacy spacing ("▁" after every '
        'added token, LLaMA-1 / Vicuna v0 style)')
    parser.add_argument(
        '--force', action='store_true', help='rewrite a folder that exists')
    args = parser.parse_args()
    ensure_package()
    from llava_detseg.models.language.llama_tokenizer import \
        write_llama_tokenizer
    out = write_llama_tokenizer(
        args.out_dir,
        vocab_size=args.vocab_size,
        num_images=args.num_images,
        seed=args.seed,
        legacy=args.legacy,
        force=args.force)
    from transformers import LlamaTokenizer
    tok = LlamaTokenizer.from_pretrained(out)
    print(f'{out}: {len(tok)} tokens, bos={tok.bos_token!r} '
          f'eos={tok.eos_token!r} unk={tok.unk_token!r} '
          f'pad={tok.pad_token!r}')


if __name__ == '__main__':
    main()
