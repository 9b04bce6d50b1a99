# As text-grounded, but the language model writes the blocks from the visual
# tokens alone (Pix2Seq / Florence-2 style), for comparison.
_base_ = ['../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded.py']

# every token is the model's own here: locs weigh as much as the rest
# The generative settings below stand again in
# configs/text/..._text-generative-ft.py: the two configs have
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
