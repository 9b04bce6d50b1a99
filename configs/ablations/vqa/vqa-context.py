# Ablation: grounded VQA with the projector on ViT layer -2 alone (LLaVA's
# choice, the checkpoint's projector), on the make demo config. Every
# question reads the det head's boxes (score >= 0.3) as a <DET> block after
# <image>; training puts the annotated boxes there (text_cfg.vqa_context).
# 7 epochs, shapes val / seed 7 / held-out: VQA number 0.75 / 0.73 / 0.71
# against the previous default's 0.46 / 0.45 / 0.48; yes/no 0.55 / 0.56 /
# 0.57 against 0.72 / 0.61 / 0.69 and colour 0.46 / 0.43 / 0.44 against
# 0.67 / 0.60 / 0.62 (README, "Grounded VQA").
# measured with an image's questions merged (the default's then)
_base_ = ['./merged-conversations.py']

vision_feature_layer = -2
model = dict(
    language=dict(vision_feature_layer=vision_feature_layer, projector=None))
