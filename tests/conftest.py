"""Shared fixtures: small real photographs and synthetic images with known values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@pytest.fixture
def smooth_rgb() -> np.ndarray:
    """A smooth 48×64 sRGB gradient in [0, 1] (lossy codecs reproduce it closely)."""
    y, x = np.mgrid[0:48, 0:64].astype(np.float32)
    return np.stack([x / 63, y / 47, 0.5 + 0.25 * np.sin(x / 9)], axis=-1).astype(np.float32)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def s3_server():
    """An S3-compatible server (moto's server mode) on 127.0.0.1 for the session, with a
    bucket ``photos``; the AWS variables s3fs reads point at it. Yields the endpoint URL."""
    import os
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(AWS_ACCESS_KEY_ID="lhe-test-key", AWS_SECRET_ACCESS_KEY=S3_SECRET, AWS_DEFAULT_REGION="us-east-1",
                      AWS_ENDPOINT_URL=endpoint)
    import boto3

    boto3.client("s3").create_bucket(Bucket="photos")
    try:
        yield endpoint
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


#: The secret key the S3 fixture's environment holds: never to appear in lhe's output.
S3_SECRET = "lhe-test-secret-do-not-print"


def small_jpegs(folder: Path, count: int, size: tuple[int, int] = (96, 64)) -> list[Path]:
    """``count`` small JPEGs cut from the dark example photos (real content, distinct files)."""
    from PIL import Image as PILImage

    folder.mkdir(parents=True, exist_ok=True)
    sources = [PILImage.open(EXAMPLES / name).convert("RGB") for name in ("dark_bar.jpg", "dark_pool.jpg")]
    paths = []
    for index in range(count):
        source = sources[index % 2]
        left = (index * 37) % max(1, source.width - size[0] * 2)
        crop = source.crop((left, 0, left + size[0] * 2, size[1] * 2)).resize(size)
        path = folder / f"img_{index:03d}.jpg"
        crop.save(path, quality=90)
        paths.append(path)
    return paths
