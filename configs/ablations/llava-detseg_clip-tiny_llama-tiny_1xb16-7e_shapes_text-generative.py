# As text-grounded, but the language model writes the blocks from the visual
# tokens alone (Pix2Seq / Florence-2 style), for comparison.
_base_ = ['./llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded.py']

# every token is the model's own here: locs weigh as much as the rest
model = dict(text_cfg=dict(mode='generative', loc_loss_weight=1.0))

# answers are the annotations: no detector-like context noise
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.clean_train_pipeline}}))
