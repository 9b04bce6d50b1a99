# Flickr8k (Flickr8k_Dataset.zip and Flickr8k_text.zip unpacked into
# data/flickr8k/): image-caption pairs for the image-text contrastive task
# (itc) and, as "Describe the image briefly." conversations, for the
# language branch (vqa); the pieces a run or a mixture assembles for the
# model's itc part (model.tasks.itc); mixed into COCO + ADE20K + LLaVA by
# configs/llava-detseg_clip-l14-336_vicuna-7b_8xb4-12e_coco-ade-llava-cifar-flickr.py.
# Expected tree: data/README.md.
flickr8k_root = 'data/flickr8k/'
flickr8k_scale = (384, 384)
flickr8k_on_error = 'raise'

flickr8k_train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='mmdet.Resize', scale=flickr8k_scale, keep_ratio=True),
    # LLaVA-1.5 pads to a square with the CLIP mean colour (BGR here)
    dict(type='mmdet.Pad', size=flickr8k_scale,
         pad_val=dict(img=(104, 117, 123))),
    # one caption for the contrastive loss (a second of the same image in
    # the batch would be a false negative), one conversation
    dict(type='SampleCaptions', num=1),
    dict(type='SampleConversations', max_num=1),
    dict(type='PackMultiTaskInputs'),
]
# every caption stays: retrieval ranks all of them
flickr8k_test_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='mmdet.Resize', scale=flickr8k_scale, keep_ratio=True),
    dict(type='mmdet.Pad', size=flickr8k_scale,
         pad_val=dict(img=(104, 117, 123))),
    dict(type='PackMultiTaskInputs'),
]

flickr8k_train = dict(
    type='Flickr8kDataset',
    data_root=flickr8k_root,
    ann_file='Flickr8k.token.txt',
    split='train',
    data_prefix=dict(img='Flicker8k_Dataset/'),
    tasks=('itc', 'vqa'),
    on_error=flickr8k_on_error,
    pipeline=flickr8k_train_pipeline)
flickr8k_test = dict(
    type='Flickr8kDataset',
    data_root=flickr8k_root,
    ann_file='Flickr8k.token.txt',
    split='test',
    data_prefix=dict(img='Flicker8k_Dataset/'),
    tasks=('itc', ),
    test_mode=True,
    on_error=flickr8k_on_error,
    pipeline=flickr8k_test_pipeline)
# R@1/5/10 image->text and text->image over the 1000 test images and their
# 5000 captions
flickr8k_evaluator = dict(
    type='TaskMetric', task='itc',
    metric=dict(type='ImageTextRetrievalRecall', topk=(1, 5, 10)))
