"""Reading images and label maps, with errors that name the file and the list line.

Images are decoded with OpenCV (about three times faster than PIL on JPEG, which matters when every
training step decodes a batch). A file OpenCV cannot decode gets a second chance with PIL, which also
provides the error message when both fail. EXIF orientation is ignored, as PIL (the original's reader)
does, so that over-segmentations computed on the stored pixels stay aligned with the image.

Label maps (semantic ground truth, over-segmentations) are read with PIL because it returns palette
indices for 'P' images (VOC ``SegmentationClass``) and keeps 16/32-bit integers as they are; OpenCV
would expand a palette to colours. RGB label maps are decoded with the COCO panoptic rule
``id = R + 256 G + 256^2 B`` so that more than 65535 ids can be stored.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
from PIL import Image

from hsg.errors import DataError

_IMREAD_FLAGS = getattr(cv2, "IMREAD_COLOR_RGB", cv2.IMREAD_COLOR) | cv2.IMREAD_IGNORE_ORIENTATION
_IMREAD_GIVES_RGB = hasattr(cv2, "IMREAD_COLOR_RGB")


def _read_bytes(path: str, where: str | None) -> np.ndarray:
    try:
        return np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(path, "file not found", where) from None
    except IsADirectoryError:
        raise DataError(path, "is a directory, expected a file", where) from None
    except OSError as e:
        raise DataError(path, f"cannot read file: {e}", where) from None


def _tail_is_missing(data: np.ndarray) -> bool:
    """True when a JPEG or PNG lacks its end marker, i.e. the file was cut short.

    Some OpenCV versions decode a truncated JPEG without complaint (grey bottom rows); such files are
    handed to PIL, which raises on truncation but accepts trailing bytes after a valid end marker.
    """
    head = data[:8].tobytes()
    tail = data[-64:].tobytes()
    if head[:2] == b"\xff\xd8":
        return b"\xff\xd9" not in tail
    if head == b"\x89PNG\r\n\x1a\n":
        return b"IEND" not in tail
    return False


def _open_pil(path: str, where: str | None) -> Image.Image:
    """Open and fully decode with PIL, turning every decoder failure into a DataError."""
    if not os.path.exists(path):
        raise DataError(path, "file not found", where)
    img = None
    try:
        img = Image.open(path)
        img.load()  # forces decoding: a truncated file fails here, not later in a worker
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        if img is not None:
            img.close()  # a failed load leaves the file open
        kind = "image is too large to decode safely" if isinstance(e, Image.DecompressionBombError) \
            else "unreadable or truncated image"
        raise DataError(path, f"{kind}: {e}", where) from None
    return img


def _is_mat(path: str) -> bool:
    return path.lower().endswith(".mat")


def read_mat_array(path: str | os.PathLike, key: str, where: str | None = None) -> np.ndarray:
    """The array ``key`` of a MATLAB ``.mat`` file: how the field distributes the Potsdam tiles
    (``imgs/<id>.mat`` key ``img``, ``gt/<id>.mat`` key ``gt``). scipy is imported on first use."""
    from scipy.io import loadmat

    path = str(path)
    if not os.path.isfile(path):
        raise DataError(path, "file not found", where)
    try:
        content = loadmat(path)
    except (OSError, ValueError, TypeError, NotImplementedError) as e:
        raise DataError(path, f"unreadable .mat file: {e}", where) from None
    if key not in content:
        keys = sorted(k for k in content if not k.startswith("__"))
        raise DataError(path, f"no key '{key}' in the .mat file (it holds {keys})", where)
    return np.asarray(content[key])


def _mat_image(path: str, where: str | None) -> np.ndarray:
    """RGB uint8 from a ``.mat`` image (key ``img``): the first three channels of an RGB+IR tile (the
    network reads RGB, as STEGO does), a single channel repeated. Floats in [0, 1] are scaled to 0..255
    (as torchvision's to_pil_image, which the field's loaders use, does)."""
    img = read_mat_array(path, "img", where)
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
        raise DataError(path, f"key 'img' must be [H, W, 1|3|4], got shape {img.shape}", where)
    img = img[..., :3] if img.shape[2] >= 3 else np.repeat(img, 3, axis=2)
    if np.issubdtype(img.dtype, np.floating):
        if img.size and (np.nanmin(img) < 0 or np.nanmax(img) > 255):
            raise DataError(path, "float pixel values outside [0, 255] in key 'img'", where)
        scale = 255.0 if img.size and np.nanmax(img) <= 1.0 else 1.0
        img = np.rint(np.nan_to_num(img) * scale)
    elif img.size and (img.min() < 0 or img.max() > 255):
        raise DataError(path, f"pixel values {int(img.min())}..{int(img.max())} in key 'img' are not 8-bit", where)
    return np.ascontiguousarray(img.astype(np.uint8))


def read_image(path: str | os.PathLike, where: str | None = None) -> np.ndarray:
    """Read an image as RGB uint8 ``[H, W, 3]`` (grayscale, palette and RGBA inputs are converted; a
    ``.mat`` file's key ``img``, e.g. a Potsdam tile, gives its first three channels)."""
    path = str(path)
    if _is_mat(path):
        return _mat_image(path, where)
    data = _read_bytes(path, where)
    img = cv2.imdecode(data, _IMREAD_FLAGS) if data.size and not _tail_is_missing(data) else None
    if img is not None:
        return img if _IMREAD_GIVES_RGB else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if data.size == 0:
        raise DataError(path, "unreadable or truncated image: the file is empty", where)
    with _open_pil(path, where) as pil:  # formats OpenCV lacks, or the decoder's own error message
        return np.asarray(pil.convert("RGB"))


def image_size(path: str | os.PathLike, where: str | None = None) -> tuple[int, int]:
    """(H, W) of an image from its header only, for cheap consistency checks."""
    path = str(path)
    if not os.path.exists(path):
        raise DataError(path, "file not found", where)
    if _is_mat(path):
        return tuple(read_image(path, where).shape[:2])
    try:
        with Image.open(path) as img:
            w, h = img.size
    except (OSError, SyntaxError, ValueError) as e:
        raise DataError(path, f"unreadable image header: {e}", where) from None
    return h, w


def _png_kind(data: np.ndarray) -> tuple[int, int] | None:
    """``(bit depth, colour type)`` from a PNG's IHDR chunk, or None for anything else."""
    head = data[:26].tobytes()
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def read_label_map(path: str | os.PathLike, where: str | None = None, rgb_ids: bool = False) -> np.ndarray:
    """Read an integer label map ``[H, W]`` with its ids unchanged, in the file's integer dtype.

    This is the one reader of label files (ground truth, predictions, over-segmentations) in hsg.
    Accepted: 8-bit grayscale, palette (the palette index is the label) and 1-bit PNGs, 16-bit PNGs and
    32-bit integer images (e.g. TIFF). ``rgb_ids`` also accepts RGB images holding COCO-panoptic encoded
    ids ``R + 256 G + 256^2 B`` (returned as int64); otherwise an RGB file is an error, because a colour
    picture of labels is not a label map. Plain grayscale PNGs are decoded by OpenCV, which releases the
    GIL, so that scoring threads read in parallel; everything else goes through Pillow.
    """
    path = str(path)
    data = _read_bytes(path, where)
    if _png_kind(data) in ((8, 0), (16, 0)) and not _tail_is_missing(data):
        arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if arr is not None and arr.ndim == 2:
            return arr
    if data.size == 0:
        raise DataError(path, "unreadable or truncated image: the file is empty", where)
    with _open_pil(path, where) as img:
        mode = img.mode
        if mode == "1":
            arr = np.asarray(img).astype(np.uint8)  # bool pixels: 0 and 1 (convert("L") would give 255)
        elif mode in ("L", "P") or mode.startswith("I"):  # "I", "I;16", "I;16B", ...
            arr = np.asarray(img)
        elif mode in ("RGB", "RGBA") and rgb_ids:
            rgb = np.asarray(img.convert("RGB")).astype(np.int64)
            arr = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
        else:
            raise DataError(path, f"a label map must be single-channel (8-bit grayscale, palette, 1-bit or "
                                  f"16/32-bit integers), got mode {mode}", where)
    if arr.ndim != 2:
        raise DataError(path, f"a label map must be 2-D, got shape {arr.shape}", where)
    return arr


def read_ground_truth(path: str | os.PathLike, label_map: str = "auto", where: str | None = None) -> np.ndarray:
    """A ground-truth file as the evaluated classes: int64 ``[H, W]``, 255 (or the dataset's own void) where
    unlabelled. The one reader of ground truth for training sets, read-outs and scoring.

    ``label_map`` (config ``dataset.label_map``, :data:`hsg.data.catalogue.LABEL_MAPS`) says what the file
    holds: ``auto`` takes its values as classes (Cityscapes ``*_gtFine_labelIds.png`` become the 19
    trainIds); the others convert the field's downloads as they are (COCO-Stuff fine ids, Cityscapes
    labelIds, Potsdam's 6 classes, KITTI-STEP's panoptic R channel). A ``.mat`` file is read from its key
    ``gt`` (Potsdam). A value the map does not know is a DataError naming the file.
    """
    from hsg.data.catalogue import LABEL_MAPS, convert_labels

    path = str(path)
    if label_map not in LABEL_MAPS:
        raise DataError(path, f"unknown dataset.label_map '{label_map}'; known: {', '.join(LABEL_MAPS)}", where)
    if _is_mat(path):
        label = read_mat_array(path, "gt", where)
        label = label[..., 0] if label.ndim == 3 and label.shape[2] == 1 else label
        if label.ndim != 2 or not (np.issubdtype(label.dtype, np.integer) or np.issubdtype(label.dtype, np.floating)):
            raise DataError(path, f"key 'gt' must be a 2-D array of class ids, got {label.dtype} {label.shape}", where)
        if np.issubdtype(label.dtype, np.floating):
            if not np.array_equal(label, np.round(label)):
                raise DataError(path, "key 'gt' holds fractional values, not class ids", where)
        label = label.astype(np.int64)
    elif label_map == "kitti_step":
        label = read_label_map(path, where, rgb_ids=True).astype(np.int64) % 256  # R of R + 256 G + 256^2 B
    else:
        label = read_label_map(path, where).astype(np.int64)
    try:
        return convert_labels(label_map, label, path)
    except ValueError as e:
        raise DataError(path, f"{e} (dataset.label_map {label_map})", where) from None


def check_same_size(image_shape: tuple[int, ...], label: np.ndarray, label_path: str, image_path: str,
                    where: str | None = None) -> None:
    """Raise if a label map does not cover the image pixel for pixel."""
    if tuple(label.shape[:2]) != tuple(image_shape[:2]):
        raise DataError(label_path, f"size {label.shape[1]}x{label.shape[0]} (WxH) differs from the image "
                                    f"{image_path} of size {image_shape[1]}x{image_shape[0]}", where)


__all__ = ["read_image", "read_label_map", "read_ground_truth", "read_mat_array", "image_size", "check_same_size"]
