# One command each: `make demo` (set up, generate data, train, evaluate) and
# `make test` (set up, run the test suite).
VENV       ?= .venv
PY         := $(VENV)/bin/python
# the embedded default: heads, grounded VQA (each question reads the det
# head's boxes) and <DET>/<SEG> text answers trained together, one text
# instruction per image, every question its own conversation (an image's
# questions read its tokens once: language.share_prefix), each box's
# region on its name and on the question's mention of it, 9 epochs of 2000
# images at about 0.7 s per batch of 16 on 2 idle cores (README, "What the
# embedded default reaches"). Every task,
# classification and image-text retrieval too: CONFIG=configs/llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded-1perimg_cls-itc.py
# (README, "Tasks as parts"). Three text instructions per image,
# ..._1xb16-7e_shapes_text-grounded.py, cost ~1.7x the step
# (configs/text/README.md)
CONFIG     ?= configs/llava-detseg_clip-tiny_llama-tiny_1xb16-9e_shapes_text-grounded-1perimg_vqa-context.py
WORK_DIR   ?= work_dirs/demo
NUM_TRAIN  ?= 2000
NUM_VAL    ?= 200
PYTEST_ARGS ?=

.PHONY: install data checkpoints demo train evaluate text-demo chat web test clean

install:
	VENV=$(VENV) bash tools/install.sh

data: install
	$(PY) tools/dataset_converters/generate_shapes.py --out-dir data/shapes \
	    --num-train $(NUM_TRAIN) --num-val $(NUM_VAL)

checkpoints: install
	$(PY) tools/model_converters/make_tiny_llava.py --out-dir data/checkpoints

train: data checkpoints
	$(PY) tools/train.py $(CONFIG) --work-dir $(WORK_DIR)

evaluate:
	$(PY) tools/test.py $(CONFIG) "$$(cat $(WORK_DIR)/last_checkpoint)" \
	    --work-dir $(WORK_DIR) --show-dir vis --show-interval 20

demo: train evaluate

# A longer text fine-tune of the demo checkpoint (it already holds the
# format's tokens; a checkpoint of the plain config needs
# tools/model_converters/add_text_tokens.py first), then its evaluation.
TEXT_MODE  ?= grounded
TEXT_CONFIG = configs/text/llava-detseg_clip-tiny_llama-tiny_1xb16-6e_shapes_text-$(TEXT_MODE)-ft.py
TEXT_DIR   ?= work_dirs/text-$(TEXT_MODE)
text-demo:
	test -f $(WORK_DIR)/last_checkpoint || $(MAKE) demo
	$(PY) tools/train.py $(TEXT_CONFIG) --work-dir $(TEXT_DIR) \
	    --cfg-options load_from="$$(cat $(WORK_DIR)/last_checkpoint)"
	$(PY) tools/test.py $(TEXT_CONFIG) "$$(cat $(TEXT_DIR)/last_checkpoint)" \
	    --work-dir $(TEXT_DIR)

# Chat in the terminal about one image with the `make demo` checkpoint
# (demo/chat.py; IMAGE=path picks another image).
IMAGE      ?= $(firstword $(sort $(wildcard data/shapes/images/val/*.png)))
chat:
	@test -f $(WORK_DIR)/last_checkpoint || { echo "chat: no $(WORK_DIR)/last_checkpoint: run make demo first"; exit 2; }
	@test -n "$(IMAGE)" || { echo "chat: no image in data/shapes/images/val/: run make data or give IMAGE=path"; exit 2; }
	$(PY) demo/chat.py $(CONFIG) --weights "$$(cat $(WORK_DIR)/last_checkpoint)" \
	    --image "$(IMAGE)"

# The Gradio web demo on the `make demo` checkpoint (http://127.0.0.1:7860).
PORT       ?= 7860
web:
	@test -f $(WORK_DIR)/last_checkpoint || { echo "run make demo first"; exit 2; }
	$(PY) demo/web_demo.py $(CONFIG) --weights "$$(cat $(WORK_DIR)/last_checkpoint)" --port $(PORT)

test: install
	$(PY) -m pytest tests $(PYTEST_ARGS)

clean:
	rm -rf work_dirs/demo
