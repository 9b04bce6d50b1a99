# The tiny twin under MMEngine's FlexibleRunner + FSDP: parameters,
# gradients and optimizer state sharded over the processes (ZeRO-3-like),
# one FSDP unit for the whole model, a full checkpoint each epoch (DDP's
# layout: tools/test.py and the inferencer load it) that --resume continues
# from. CompatFSDPStrategy is mmengine's FSDPStrategy with its resume fixed
# for torch 2 and a CPU (gloo) fallback. On CPUs or GPUs:
#   tools/dist_train.sh \
#       configs/llava-detseg_clip-tiny_llama-tiny_fsdp_2xb2-2e_coco-ade-llava-tiny.py 2
_base_ = ['./llava-detseg_clip-tiny_llama-tiny_2xb2-2e_coco-ade-llava-tiny.py']

runner_type = 'FlexibleRunner'
strategy = dict(
    type='CompatFSDPStrategy',
    model_wrapper=dict(
        type='MMFullyShardedDataParallel',
        # the frozen and the trained parameters share one flat parameter
        use_orig_params=True),
    state_dict_cfg='full')
