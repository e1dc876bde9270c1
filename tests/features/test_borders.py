"""Border trimming: bars and padding go, the picture stays."""

from __future__ import annotations

import numpy as np
from PIL import Image

from indexer.features.borders import Crop, detect_border, detect_border_stack


def test_letterbox_and_pillarbox_bars_are_cut(photos) -> None:
    picture = photos["astronaut"][:200, :300]
    framed = np.zeros((300, 420, 3), np.uint8)
    framed[50:250, 60:360] = picture
    assert detect_border(framed) == Crop(50, 250, 60, 360)


def test_screenshot_padding_in_a_light_colour_is_cut(photos) -> None:
    picture = photos["coffee"][:100, :100]
    padded = np.full((160, 140, 3), 245, np.uint8)
    padded[30:130, 20:120] = picture
    assert detect_border(padded) == Crop(30, 130, 20, 120)


def test_a_photo_without_bars_is_kept_whole(photos) -> None:
    image = photos["chelsea"]
    assert detect_border(image) == Crop(0, image.shape[0], 0, image.shape[1])


def test_a_flat_image_is_not_trimmed_to_nothing() -> None:
    assert detect_border(np.full((40, 60, 3), 7, np.uint8)) == Crop(0, 40, 0, 60)


def test_video_stack_keeps_the_least_trim_so_dark_scenes_survive(photos) -> None:
    barred = np.zeros((120, 100, 3), np.uint8)
    barred[20:100] = photos["rocket"][:80, :100]
    dark_scene = np.zeros_like(barred)
    dark_scene[20:100, 40:60] = 200  # mostly black frame: alone it would be cut to a sliver
    assert detect_border_stack([barred, dark_scene]) == Crop(20, 100, 0, 100)



def test_bars_of_any_width_are_found_to_the_pixel_or_within_one_grid_step() -> None:
    # Edges are scanned in growing chunks (1, 3, 12, 48 lines): bars either side of each chunk end.
    rng = np.random.default_rng(0)
    for size, step in ((300, 1), (1100, 4)):  # the grid step is min(h, w) // 256
        for lines in (1, 2, 3, 4, 5, 15, 16, 17, 63, 64, 65):
            top, bottom, left, right = (lines * step + extra for extra in (1, 2, 3, 4))
            image = np.full((size, size + 40, 3), 16, np.uint8)
            picture = (slice(top, size - bottom), slice(left, size + 40 - right))
            image[picture] = rng.integers(40, 255, image[picture].shape, dtype=np.uint8)
            crop = detect_border(image)
            assert detect_border(Image.fromarray(image)) == crop  # a Pillow image reads only its edge lines
            cut = (crop.top, size - crop.bottom, crop.left, size + 40 - crop.right)
            for found, bar in zip(cut, (top, bottom, left, right)):
                # Exact on a full grid; with a coarser one, never into the picture and at most two
                # steps short (the grid starts at the top-left corner, so the far edges are offset).
                assert found == bar if step == 1 else bar - 2 * step < found <= bar, (size, lines, cut)
