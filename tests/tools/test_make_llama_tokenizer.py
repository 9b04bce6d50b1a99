"""tools/model_converters/make_llama_tokenizer.py writes Vicuna's layout."""
import json
import os
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'model_converters', 'make_llama_tokenizer.py')


def test_writes_a_folder_llama_tokenizer_loads(tmp_path):
    out = tmp_path / 'tok'
    proc = subprocess.run(
        [sys.executable, TOOL, '--out-dir',
         str(out), '--vocab-size', '800'],
        env=dict(os.environ, PYTHONPATH=osp.join(ROOT, 'projects')),
        capture_output=True,
        text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '800 tokens' in proc.stdout and 'pad=None' in proc.stdout
    assert sorted(os.listdir(out)) == [
        'special_tokens_map.json', 'tokenizer.model', 'tokenizer_config.json'
    ]
    config = json.loads((out / 'tokenizer_config.json').read_text())
    assert config['tokenizer_class'] == 'LlamaTokenizer'
    assert config['legacy'] is False and config['pad_token'] is None
