"""``LlavaDetSegInferencer``: images + instructions -> answers, boxes, masks.

Modelled on mmdet's ``DetInferencer`` (mmengine's ``BaseInferencer``, the
same argument names where they fit) and on LLaVA's ``serve/cli.py`` for the
generation settings. Every image goes through the model's one answering
path (``LlavaDetSeg.respond``), the same code ``tools/test.py`` runs.

One unit over 400 lines: the one class of mmengine's ``BaseInferencer``
contract (model, pipeline and visualizer set-up, call, postprocess), as
mmdet's ``DetInferencer`` is; the request parsing and the JSON results
already live in ``instructions.py`` and ``results.py``.
"""
import contextlib
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.infer import BaseInferencer
from mmengine.registry import init_default_scope
from rich.progress import track

from llava_detseg.structures import DetSegTextCodec
from .images import IMAGE_EXTENSIONS, load_image
from .instructions import parse_instruction
from .results import drawing_sample, error_dict, prediction_dict

InputType = Union[str, np.ndarray]
DTYPES = dict(fp32=torch.float32, bf16=torch.bfloat16, fp16=torch.float16)
# steps of a test pipeline that read annotations or write training targets
_ANNOTATION_STEPS = ('LoadAnnotations', 'GenerateTextInstructions',
                     'SampleConversations')
EXAMPLES = ('Detect all objects.', 'Segment all objects.',
            'Detect the {p0} and segment the {p1}.', 'How many {p0} are there?',
            'Find every {c1} and segment the {p2}.', 'What color is the {c0}?')


class LlavaDetSegInferencer(BaseInferencer):
    """Answer instructions about images with text, boxes and masks.

    Args:
        model (str): A config file, or a folder written by
            ``tools/model_converters/merge_lora.py`` (its ``hf/`` export).
        weights (str, optional): MMEngine checkpoint for a config.
        device (str, optional): ``'cpu'``, ``'cuda'``, ``'cuda:1'`` ...
            (default: CUDA if present).
        dtype (str): ``'fp32'`` (default), ``'bf16'`` or ``'fp16'``
            (autocast; fp16 needs CUDA).
        load_4bit / load_8bit (bool): Load the language model quantized
            (bitsandbytes; CUDA only: refused with a message otherwise).
        show_progress (bool): A progress bar over the inputs.
        scope (str): Registry scope.
    """

    preprocess_kwargs: set = set()
    forward_kwargs: set = {'max_new_tokens', 'temperature', 'top_p'}
    visualize_kwargs: set = {'return_vis', 'show', 'no_save_vis',
                             'draw_pred'}
    postprocess_kwargs: set = {'print_result', 'no_save_pred'}

    def __init__(self,
                 model: str,
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 dtype: str = 'fp32',
                 load_4bit: bool = False,
                 load_8bit: bool = False,
                 show_progress: bool = True,
                 scope: str = 'llava_detseg') -> None:
        from llava_detseg.utils import register_all_modules
        register_all_modules()
        init_default_scope(scope)
        if dtype not in DTYPES:
            raise ValueError(f'dtype must be one of {tuple(DTYPES)}, got '
                             f'{dtype!r}')
        if load_4bit and load_8bit:
            raise ValueError('choose one of load_4bit and load_8bit')
        if device is None:
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        if dtype == 'fp16' and not str(device).startswith('cuda'):
            raise ValueError('dtype="fp16" needs a CUDA device; use "bf16" '
                             'or "fp32" on the CPU')
        self.dtype = dtype
        self.quantization = '4bit' if load_4bit else (
            '8bit' if load_8bit else None)
        self.show_progress = show_progress
        self.device = torch.device(device)
        if isinstance(model, str) and osp.isdir(model):
            self._init_from_export(model, device, scope)
        else:
            if not isinstance(model, str) or not osp.isfile(model):
                raise FileNotFoundError(
                    f'model {model!r} is neither a config file nor an '
                    'exported folder')
            if weights is not None and not osp.isfile(weights):
                raise FileNotFoundError(f'weights {weights} do not exist')
            super().__init__(model, weights, device, scope)
        self._setup_meta()

    # ------------------------------------------------------------------
    # building
    # ------------------------------------------------------------------
    def _init_from_export(self, folder: str, device: str, scope: str) -> None:
        from llava_detseg.models.utils.export import load_exported
        overrides = {}
        if self.quantization:
            overrides['model.language.quantization'] = self.quantization
        self.model, cfg = load_exported(folder, device=device, **overrides)
        self.scope, self.cfg = scope, cfg
        self.pipeline = self._init_pipeline(cfg)
        self.collate_fn = pseudo_collate
        self.visualizer = self._init_visualizer(cfg)

    def _init_model(self, cfg: Config, weights: Optional[str],
                    device: str = 'cpu') -> torch.nn.Module:
        from mmengine.runner.checkpoint import _load_checkpoint
        from llava_detseg.registry import MODELS
        if self.quantization:
            cfg.model.language.quantization = self.quantization
        # nothing trains here: a distillation teacher is not needed
        cfg.model.distiller = None
        model = MODELS.build(cfg.model)
        self.checkpoint_meta = {}
        if weights is not None:
            ckpt = _load_checkpoint(weights, map_location='cpu')
            state = ckpt.get('state_dict', ckpt)
            missing, unexpected = model.load_state_dict(state, strict=False)
            if missing or unexpected:
                raise ValueError(
                    f'{weights} does not match the config: '
                    f'{len(missing)} missing keys (e.g. {missing[:3]}), '
                    f'{len(unexpected)} unexpected (e.g. {unexpected[:3]}); '
                    'was it trained with this config?')
            self.checkpoint_meta = ckpt.get('meta', {}) or {}
        model.cfg = cfg
        return model.to(device).eval()

    def _init_pipeline(self, cfg: Config) -> Compose:
        """The config's test pipeline without its annotation steps, fed
        with decoded arrays (``mmdet.LoadImageFromNDArray``)."""
        steps = [dict(s) for s in cfg.test_dataloader.dataset.pipeline]
        steps = [s for s in steps
                 if not any(a in s['type'] for a in _ANNOTATION_STEPS)]
        if 'Load' in steps[0]['type']:
            steps[0] = dict(type='mmdet.LoadImageFromNDArray')
        else:
            steps.insert(0, dict(type='mmdet.LoadImageFromNDArray'))
        return Compose(steps)

    def _init_visualizer(self, cfg: Config):
        from llava_detseg.visualization import MultiTaskVisualizer
        vis_cfg = dict(cfg.get('visualizer', {}))
        vis_cfg.pop('type', None)
        vis_cfg['name'] = f'llava_detseg_inferencer_{id(self)}'
        vis_cfg.pop('vis_backends', None)
        return MultiTaskVisualizer(**vis_cfg)

    def _setup_meta(self) -> None:
        """Class names, the codec, the default threshold and examples."""
        text = getattr(self.model, 'text', None)
        if text is not None:
            self.codec = text.codec
        else:
            meta = dict(self.checkpoint_meta.get('dataset_meta') or {})
            if not meta.get('classes'):
                meta = self._dataset_meta()
            self.codec = DetSegTextCodec(meta['classes'],
                                         meta.get('seg_classes'))
        self.classes = self.codec.classes
        self.seg_classes = self.codec.seg_classes
        self.default_score_thr = float(
            text.context_score_thr if text is not None else 0.3)
        from mmdet.visualization.palette import get_palette
        self.visualizer.dataset_meta = dict(
            classes=self.classes, seg_classes=self.seg_classes,
            palette=get_palette('random', len(self.classes)))
        names = list(self.classes) + list(self.classes[:2]) * 3
        from llava_detseg.datasets.transforms.text_instructions import \
            pluralize
        fmt = {f'c{i}': names[i] for i in range(3)}
        fmt.update({f'p{i}': pluralize(names[i]) for i in range(3)})
        self.example_instructions = [e.format(**fmt) for e in EXAMPLES]

    def _dataset_meta(self) -> dict:
        """The test dataset's classes, read without loading the data."""
        from llava_detseg.registry import DATASETS
        cfg = self.cfg.test_dataloader.dataset
        cls = DATASETS.get(cfg.type)
        meta = dict(getattr(cls, 'METAINFO', {}) or {})
        meta.update(cfg.get('metainfo') or {})
        if not meta.get('classes'):
            num = getattr(self.model.det_head, 'num_classes', 1)
            meta['classes'] = tuple(f'class_{i}' for i in range(num))
        return meta

    # ------------------------------------------------------------------
    # inputs
    # ------------------------------------------------------------------
    def _inputs_to_list(self, inputs) -> list:
        """A path, a folder (its images, sorted), an array, or a list."""
        if isinstance(inputs, str) and osp.isdir(inputs):
            files = sorted(
                f for f in os.listdir(inputs)
                if f.lower().endswith(IMAGE_EXTENSIONS))
            if not files:
                raise FileNotFoundError(f'no images in the folder {inputs}')
            return [osp.join(inputs, f) for f in files]
        if isinstance(inputs, (list, tuple)):
            return list(inputs)
        return [inputs]

    @staticmethod
    def _texts_for(texts, n: int) -> List:
        if isinstance(texts, str) or texts is None:
            return [texts] * n
        texts = list(texts)
        if len(texts) == 1:
            return texts * n
        if len(texts) != n:
            raise ValueError(f'{len(texts)} instructions for {n} images: '
                             'give one for all images or one per image')
        return texts

    def parse(self, text: str):
        """What ``text`` asks the model for (``ParsedInstruction``)."""
        text_io = getattr(self.model, 'text', None)
        # "How many ..." is a counted <DET> instruction for a grounded text
        # model, but a question where questions read the det head's boxes
        # (text_cfg.vqa_context): such a model is not trained on the
        # counting instruction, whose prompt the question's then equals
        counts = text_io is not None and text_io.vqa_context is None
        return parse_instruction(
            text, self.classes, self.seg_classes,
            self.codec.background_index, counts=counts)

    def generation_settings(self, max_new_tokens: Optional[int] = None,
                            temperature: float = 0.0,
                            top_p: float = 1.0) -> dict:
        """The settings each prediction records."""
        return dict(max_new_tokens=max_new_tokens, temperature=float(
            temperature or 0.0), top_p=float(top_p))

    # ------------------------------------------------------------------
    # running
    # ------------------------------------------------------------------
    def __call__(self,
                 inputs,
                 texts: Union[str, Sequence[str], None] = None,
                 batch_size: int = 1,
                 out_dir: str = '',
                 pred_score_thr: Optional[float] = None,
                 return_vis: bool = False,
                 show: bool = False,
                 no_save_vis: bool = False,
                 no_save_pred: bool = False,
                 print_result: bool = False,
                 return_datasamples: bool = False,
                 max_new_tokens: Optional[int] = None,
                 temperature: float = 0.0,
                 top_p: float = 1.0) -> dict:
        """Answer ``texts`` about ``inputs``.

        Args:
            inputs: An image path, a folder, a BGR ``np.ndarray`` or a list
                of them.
            texts: One instruction for every image, or one per image
                (default ``'Detect all objects.'``).
            batch_size (int): Images per forward pass.
            out_dir (str): Write ``preds/<stem>.json`` and ``vis/<stem>.png``
                here, as each batch finishes ('' : write nothing).
            pred_score_thr (float, optional): Lowest head score put in a
                grounded context, saved and drawn (default the model's
                ``text_cfg.context_score_thr``, else 0.3); the JSON states it.
            return_vis (bool): Return the drawings (RGB arrays).
            show (bool): Show each drawing in a window.
            no_save_vis / no_save_pred (bool): Skip writing drawings / JSON.
            print_result (bool): Print each prediction.
            return_datasamples (bool): Also return the ``DetDataSample``s.
            max_new_tokens (int, optional): Answer budget (default the
                model's).
            temperature (float): 0 (default) decodes greedily.
            top_p (float): Nucleus sampling with ``temperature > 0``.

        Returns:
            dict: ``predictions`` (one dict per image), ``visualization``
            (RGB arrays or None) and, with ``return_datasamples``,
            ``datasamples``.
        """
        items = self._inputs_to_list(inputs)
        texts = self._texts_for(texts or 'Detect all objects.', len(items))
        thr = self.default_score_thr if pred_score_thr is None else float(
            pred_score_thr)
        gen = self.generation_settings(max_new_tokens, temperature, top_p)
        preds, vis, samples = [], [], []
        names: Dict[str, int] = {}
        batches = [list(range(i, min(i + batch_size, len(items))))
                   for i in range(0, len(items), max(batch_size, 1))]
        for batch in track(batches, description='Inference',
                           disable=not self.show_progress):
            results = self.run_batch([items[i] for i in batch],
                                     [texts[i] for i in batch], thr, gen,
                                     indices=batch)
            for pred, sample, image in results:
                stem = self._stem(pred['image'], names)
                drawing = None
                if pred['error'] is None and (return_vis or show or (
                        out_dir and not no_save_vis)):
                    drawing = self.draw(image, pred)
                    if show:
                        self.visualizer.show(drawing, win_name=stem)
                if out_dir and not no_save_vis and drawing is not None:
                    mmcv.imwrite(drawing[..., ::-1],
                                 osp.join(out_dir, 'vis', f'{stem}.png'))
                if out_dir and not no_save_pred:
                    os.makedirs(osp.join(out_dir, 'preds'), exist_ok=True)
                    with open(osp.join(out_dir, 'preds', f'{stem}.json'),
                              'w') as f:
                        json.dump(pred, f, indent=1)
                if print_result:
                    print(json.dumps(pred))
                preds.append(pred)
                if return_vis:
                    vis.append(drawing)
                if return_datasamples:
                    samples.append(sample)
        out = dict(predictions=preds, visualization=vis if return_vis
                   else None)
        if return_datasamples:
            out['datasamples'] = samples
        return out

    @staticmethod
    def _stem(image: str, names: Dict[str, int]) -> str:
        stem = osp.splitext(osp.basename(image))[0]
        names[stem] = names.get(stem, -1) + 1
        return stem if names[stem] == 0 else f'{stem}_{names[stem]}'

    def run_batch(self, images: Sequence[InputType],
                  texts: Sequence[str], score_thr: float, generation: dict,
                  indices: Optional[Sequence[int]] = None,
                  histories: Optional[Sequence[list]] = None,
                  stream: Optional[dict] = None) -> List[tuple]:
        """Answer one batch: ``[(prediction, sample or None, BGR image or
        None)]`` in input order.

        A bad image or instruction gives a prediction with ``error`` (and
        is left out of the model's batch); nothing raises.
        """
        indices = indices if indices is not None else range(len(images))
        out: List[Optional[Tuple[dict, object]]] = [None] * len(images)
        data, requests, problems, where = [], [], [], []
        for k, (img, text, index) in enumerate(zip(images, texts, indices)):
            name = img if isinstance(img, str) else f'array_{index:06d}'
            try:
                array = load_image(img)
                parsed = self.parse(text)
            except (ValueError, FileNotFoundError, TypeError) as e:
                out[k] = (error_dict(name, text, str(e), generation,
                                     score_thr), None, None)
                continue
            req = parsed.request
            if histories is not None:
                req.history = list(histories[k])
            tasks = tuple(t for t in ('det', 'seg')
                          if getattr(req, t) is not None)
            data.append(self.pipeline(dict(
                img=array, img_path=name, img_id=index,
                tasks=tasks + ('vqa', ))))
            requests.append([req])
            problems.append(parsed.problems)
            where.append((k, name, array))
        if data:
            samples = self.forward_requests(data, requests, score_thr,
                                            generation, stream)
            has_text = getattr(self.model, 'text', None) is not None
            for (k, name, array), sample, probs in zip(where, samples,
                                                       problems):
                pred = prediction_dict(sample, sample.responses[0],
                                       self.codec, score_thr, has_text, name,
                                       generation, probs)
                out[k] = (pred, sample, array)
        return out

    @torch.no_grad()
    def forward_requests(self, data: list, requests: list, score_thr: float,
                         generation: dict, stream: Optional[dict] = None):
        """Preprocess, then ``model.respond`` with the threshold, budget and
        sampling settings of this call."""
        model = self.model
        batch = model.data_preprocessor(self.collate_fn(data), False)
        gen = dict(temperature=generation['temperature'],
                   top_p=generation['top_p'], **(stream or {}))
        text = getattr(model, 'text', None)
        saved = text.context_score_thr if text is not None else None
        if text is not None:
            text.context_score_thr = score_thr
        try:
            with self._autocast():
                return model.respond(batch['inputs'], batch['data_samples'],
                                     requests, gen,
                                     generation['max_new_tokens'])
        finally:
            if text is not None:
                text.context_score_thr = saved

    def _autocast(self):
        if self.dtype == 'fp32':
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=DTYPES[self.dtype])

    # ------------------------------------------------------------------
    # drawing
    # ------------------------------------------------------------------
    def draw(self, image_bgr: np.ndarray, pred: dict) -> np.ndarray:
        """The prediction's boxes, masks (with their class names) and
        answer drawn over the image: an RGB array."""
        sample = drawing_sample(pred, self.codec)
        self.visualizer.add_datasample(
            'prediction', image_bgr[..., ::-1], sample, draw_gt=False,
            pred_score_thr=0.0)
        return self.visualizer.qa_panel(self.visualizer.get_image(), sample)

    def visualize(self, inputs: list, preds, **kwargs) -> list:
        """``BaseInferencer``'s hook: drawings of ``(prediction, sample)``."""
        return [self.draw(img, p) for p, _, img in preds if img is not None]

    def postprocess(self, preds, visualization, return_datasample=False,
                    **kwargs) -> dict:
        """``BaseInferencer``'s hook: the predictions as ``__call__``."""
        return dict(predictions=[p for p, _, _ in preds],
                    visualization=visualization)

    def chat(self, image: Optional[InputType] = None, **settings):
        """A multi-turn :class:`ChatSession` (state of its own)."""
        from .chat import ChatSession
        return ChatSession(self, image, **settings)

