# As text-grounded-ft, but in generative mode: the language model writes the
# <DET>/<SEG> blocks from the visual tokens alone (Pix2Seq / Florence-2
# style), for comparison with the grounded answers.
_base_ = ['./llava-detseg_clip-tiny_llama-tiny_1xb16-6e_shapes_text-grounded-ft.py']

model = dict(text_cfg=dict(mode='generative', loc_loss_weight=1.0))

# answers are the annotations: no detector-like context noise
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.clean_train_pipeline}}))
