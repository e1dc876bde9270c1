"""Border trimming: bars and padding go, the picture stays."""

from __future__ import annotations

import numpy as np

from indexer.borders import Crop, detect_border, detect_border_stack


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
