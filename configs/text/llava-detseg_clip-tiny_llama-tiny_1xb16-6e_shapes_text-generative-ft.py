# As text-grounded-ft, but in generative mode: the language model writes the
# <DET>/<SEG> blocks from the visual tokens alone (Pix2Seq / Florence-2
# style), for comparison with the grounded answers.
_base_ = ['./llava-detseg_clip-tiny_llama-tiny_1xb16-6e_shapes_text-grounded-ft.py']

# The generative settings below stand again in
# configs/ablations/..._text-generative.py: the two configs have
# different bases (from scratch / the fine-tune), and mmengine refuses a
# shared fragment that sets keys its sibling base also sets.
model = dict(
    # grammar-level decoding as measured (no class runs without a context)
    text_cfg=dict(mode='generative', loc_loss_weight=1.0,
                  terminate_items=False, switch_prob=None))

# answers are the annotations: no detector-like context noise
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.clean_train_pipeline}}))

# boxes written from pixels copy no head box: rank them by their position
val_evaluator = _base_.val_evaluator[:-1] + [
    dict(_base_.val_evaluator[-1], box_scores='rank')]
test_evaluator = val_evaluator
