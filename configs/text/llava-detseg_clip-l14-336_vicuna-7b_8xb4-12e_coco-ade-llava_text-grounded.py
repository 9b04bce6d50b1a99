# The full model answering detection / segmentation instructions with
# <DET>/<SEG> text (docs/text_format.md), grounded mode: COCO images get
# detection instructions ("Detect all objects.", "Find every {cls}.", counts,
# "Where is the second {cls} from the left?"), ADE20K images segmentation
# instructions ("Segment the {cls}."); the dense heads' results are the
# context when predicting. Class names come from the datasets' METAINFO.
_base_ = ['../llava-detseg_clip-l14-336_vicuna-7b_8xb4-12e_coco-ade-llava.py']

det_classes = 'mmdet.CocoDataset'
seg_classes = 'mmseg.ADE20KDataset'
# ADE20K has no background label (reduce_zero_label): every label is written
ade_codec = dict(background_index=None, max_vertices=32, tolerance=2.0,
                 min_region_area=256)
coco_codec = dict(max_boxes=50)
context_score_thr = 0.1

model = dict(
    language=dict(special_tokens=dict(num_bins=1000), max_new_tokens=32),
    text_cfg=dict(
        classes=det_classes,
        seg_classes=seg_classes,
        mode='grounded',
        context_score_thr=context_score_thr,
        context_max_boxes=50,
        max_new_tokens=768,
        loc_loss_weight=0.1,
        # class runs decided by the model (text_cfg's default switch_prob),
        # trained where they are decided
        # (docs/text_format.md#constrained-decoding)
        terminate_items=True,
        codec=dict(max_boxes=50, background_index=None, max_vertices=32,
                   tolerance=2.0, min_region_area=256)))

coco_text = dict(type='GenerateTextInstructions', classes=det_classes,
                 kinds=('det_all', 'det_class', 'count', 'where'),
                 codec=coco_codec, answer_order='confidence')
ade_text = dict(type='GenerateTextInstructions', classes=seg_classes,
                seg_classes=seg_classes, kinds=('seg_all', 'seg_class'),
                codec=ade_codec)


def _with(pipeline, step):
    """``pipeline`` with ``step`` before PackMultiTaskInputs."""
    return pipeline[:-1] + [step, pipeline[-1]]


train_dataloader = dict(
    dataset=dict(
        datasets=dict(
            coco=dict(pipeline=_with(
                _base_.coco_train_pipeline,
                dict(coco_text, num_per_image=2, coords='img_shape'))),
            ade=dict(pipeline=_with(
                _base_.ade_train_pipeline,
                dict(ade_text, num_per_image=2, coords='img_shape'))))))
val_dataloader = dict(
    dataset=dict(
        datasets=dict(
            coco=dict(pipeline=_with(
                _base_.coco_test_pipeline,
                dict(coco_text, num_per_image=None, coords='ori_shape'))),
            ade=dict(pipeline=_with(
                _base_.ade_test_pipeline,
                dict(ade_text, num_per_image=None, coords='ori_shape'))))))
test_dataloader = val_dataloader
