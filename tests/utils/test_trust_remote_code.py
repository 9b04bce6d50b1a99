"""trust_remote_code is never on by default: a folder's own Python never
runs when the project loads a model or a tokenizer."""
import json
import os.path as osp
import re
import shutil
import subprocess

import pytest

from conftest import ROOT
from llava_detseg.models.utils import hf


def test_loaders_pass_trust_remote_code_false(monkeypatch, tmp_path):
    seen = {}

    class Fake:

        @classmethod
        def from_pretrained(cls, path, **kwargs):
            seen['model'] = kwargs
            return Fake()

    hf.load_hf_model(Fake, str(tmp_path))
    assert seen['model']['trust_remote_code'] is False
    from transformers import AutoTokenizer
    monkeypatch.setattr(AutoTokenizer, 'from_pretrained',
                        lambda path, **kw: seen.setdefault('tok', kw))
    hf.load_hf_tokenizer(str(tmp_path))
    assert seen['tok']['trust_remote_code'] is False


def test_a_tokenizer_folder_with_its_own_code_does_not_run_it(
        tiny_ckpt, tmp_path):
    folder = str(tmp_path / 'remote')
    shutil.copytree(tiny_ckpt['llava'], folder)
    marker = str(tmp_path / 'code_ran')
    with open(osp.join(folder, 'evil_tokenizer.py'), 'w') as f:
        f.write(f'import os\nos.mkdir({marker!r})\n'
                'from transformers import PreTrainedTokenizerFast\n'
                'class EvilTokenizer(PreTrainedTokenizerFast):\n    pass\n')
    config = osp.join(folder, 'tokenizer_config.json')
    with open(config) as f:
        data = json.load(f)
    data['auto_map'] = {
        'AutoTokenizer': [None, 'evil_tokenizer.EvilTokenizer']}
    with open(config, 'w') as f:
        json.dump(data, f)
    try:
        tok = hf.load_hf_tokenizer(folder)
    except ValueError as e:  # refused with one line
        assert 'trust_remote_code is off' in str(e) and '\n' not in str(e)
    else:  # or the standard class of its model type loaded instead
        assert type(tok).__name__ != 'EvilTokenizer'
    assert not osp.exists(marker)


def test_no_source_turns_it_on():
    # every trust_remote_code in the package, tools and demos is False
    proc = subprocess.run(
        ['grep', '-rnE', r'trust_remote_code\s*[=:]\s*True',
         'projects', 'tools', 'demo', 'configs'],
        cwd=ROOT, capture_output=True, text=True)
    assert proc.stdout == '', proc.stdout
    assert re.search('trust_remote_code', open(hf.__file__).read())


def test_exported_weights_are_safetensors():
    from llava_detseg.models.utils import export
    assert export.EXTRA_FILE.endswith('.safetensors')
    source = open(export.__file__).read()
    assert 'torch.save' not in source and 'pickle' not in source
    assert 'safe_serialization=False' not in source


if __name__ == '__main__':
    pytest.main([__file__])
