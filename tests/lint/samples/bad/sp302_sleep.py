"""SP302: time.sleep in async code, however it is imported."""

import time
from time import sleep as pause


async def throttle() -> None:
    time.sleep(1)  # expect: SP302
    pause(0.5)  # expect: SP302
