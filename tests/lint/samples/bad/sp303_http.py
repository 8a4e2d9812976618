"""SP303: sync HTTP clients inside async code."""

import urllib.request

import requests

session = requests.Session()


async def fetch(url: str) -> bytes:
    requests.get(url, timeout=10)  # expect: SP303
    session.post(url, timeout=10)  # expect: SP303
    with urllib.request.urlopen(url) as response:  # noqa: S310  # expect: SP303
        return bytes(response.read())
