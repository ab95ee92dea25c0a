# Golden outputs of Pillow's bilinear resize (what torchvision's Resize / RandomResizedCrop use on
# PIL images), for test/test_data_transforms.cpp. Run with Debian's python3 (Pillow 9.4, numpy):
#   /usr/bin/python3 test/data/golden/pil/make_golden.py
import os

import numpy as np
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))


def source(h, w):
    # The same formula as pil_source() in the test.
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    return ((y * y * 3 + x * 7 + c * 50 + (x * y) % 13) % 256).astype(np.uint8)


img = Image.fromarray(source(37, 53), "RGB")
for h, w in [(20, 30), (80, 61), (17, 100), (37, 26), (9, 53), (1, 1)]:
    np.save(os.path.join(here, f"resize_37x53_to_{h}x{w}.npy"), np.asarray(img.resize((w, h), Image.BILINEAR)))
# resized_crop: crop (top 13, left 27, 61x88) of a 100x150 image, then resize to 24x24.
big = Image.fromarray(source(100, 150), "RGB")
np.save(os.path.join(here, "crop_100x150_13_27_61x88_to_24x24.npy"),
        np.asarray(big.crop((27, 13, 27 + 88, 13 + 61)).resize((24, 24), Image.BILINEAR)))
print(Image.__version__ if hasattr(Image, "__version__") else "", "done")
