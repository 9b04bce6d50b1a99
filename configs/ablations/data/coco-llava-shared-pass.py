# Compound samples: LLaVA-Instruct-150K conversations joined to their COCO
# images, so one backbone pass serves detection and VQA (no separate LLaVA
# source). VQA then sees the detection resolution.
_base_ = ['../../llava_detseg.py']

train_dataloader = dict(
    dataset=dict(
        datasets=dict(
            coco=dict(
                conv_file='../llava/llava_instruct_150k_train.json',
                tasks=('det', 'vqa')),
            llava=None)))
