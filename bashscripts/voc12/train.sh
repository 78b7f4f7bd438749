#!/usr/bin/env bash
# HSG trained without labels on VOC 2012 train_aug images, evaluated on VOC 2012 val with the COCO recipe:
# bashscripts/coco/train.sh with TRAIN_IMAGES=voc12 (the memory split is also the training set).
#
#   bash bashscripts/voc12/train.sh
#
# Environment as bashscripts/coco/train.sh (SNAPSHOT_DIR defaults to snapshots/voc12/hsg_res50).
TRAIN_IMAGES=voc12 source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/coco/train.sh"
