# The full-scale LLaVA-DetSeg: `tools/dist_train.sh configs/llava_detseg.py 8`.
# It is the properly named config below; ablations inherit from this file.
_base_ = ['./llava-detseg_clip-l14-336_vicuna-7b_8xb4-12e_coco-ade-llava.py']
