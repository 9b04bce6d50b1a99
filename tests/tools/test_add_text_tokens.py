import os.path as osp
import subprocess
import sys

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KEYS = ('language.llava.model.language_model.embed_tokens.weight',
        'language.llava.lm_head.weight')


def test_grows_both_matrices_and_keeps_old_rows(tiny_ckpt, tmp_path):
    old = {k: torch.randn(498, 8) for k in KEYS}
    src, out = tmp_path / 'in.pth', tmp_path / 'out.pth'
    torch.save(dict(state_dict=dict(old), optimizer={}, meta={}), src)
    env = dict(PYTHONPATH=osp.join(ROOT, 'projects'))
    subprocess.run([
        sys.executable, osp.join(ROOT, 'tools/model_converters/'
                                 'add_text_tokens.py'), str(src),
        tiny_ckpt['llava'], str(out)
    ], check=True, env=env, capture_output=True)
    ckpt = torch.load(out, weights_only=False)
    assert 'optimizer' not in ckpt
    for k in KEYS:
        new = ckpt['state_dict'][k]
        assert new.shape == (498 + 1006, 8)
        assert torch.equal(new[:498], old[k])
        assert new[498:].std(0).min() > 0  # distinguishable new rows
    emb, head = (ckpt['state_dict'][k][498:] for k in KEYS)
    z = lambda w: (w - w.mean(0)) / w.std(0)  # noqa: E731
    # the same noise in both: each new token's rows start aligned
    assert torch.allclose(z(emb), z(head), atol=1e-3)
