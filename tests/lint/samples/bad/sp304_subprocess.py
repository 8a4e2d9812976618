"""SP304: blocking subprocess calls inside async code."""

import subprocess


async def convert(path: str) -> str:
    subprocess.run(["ffmpeg", "-i", path, "out.mp4"], check=True)  # expect: SP304
    return subprocess.check_output(["ffprobe", path], text=True)  # expect: SP304
