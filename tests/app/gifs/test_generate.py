"""app/gifs/generate.py: the bundled GIFs are real, small, animated, looping, and exactly
what the script draws (so they can be regenerated)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from app.gifs import generate

BUNDLED = sorted(generate.HERE.glob("*.gif"))


def test_twelve_or_more_small_animated_looping_gifs():
    assert len(BUNDLED) >= 12
    for path in BUNDLED:
        assert path.stat().st_size < 16_000, path.name
        with Image.open(path) as image:
            assert image.format == "GIF"
            assert image.is_animated and image.n_frames == generate.FRAMES, path.name
            assert image.info["loop"] == 0  # forever
            assert image.info["duration"] == generate.FRAME_MS


def test_frames_differ_so_something_moves():
    for path in BUNDLED:
        with Image.open(path) as image:
            frames = set()
            for index in range(image.n_frames):
                image.seek(index)
                frames.add(image.convert("RGB").tobytes())
        assert len(frames) > 1, path.name


def test_the_committed_files_are_what_the_script_draws(tmp_path: Path):
    generate.main(tmp_path)
    fresh = sorted(tmp_path.glob("*.gif"))
    assert [p.name for p in fresh] == [p.name for p in BUNDLED]
    for new, old in zip(fresh, BUNDLED, strict=True):
        assert new.read_bytes() == old.read_bytes(), f"{old.name}: run app/gifs/generate.py"
