"""SP306: sync waits on threads, futures and queues inside async def."""

import asyncio
import concurrent.futures
import queue
import threading

from telegram import Update
from telegram.ext import ContextTypes

EXECUTOR = concurrent.futures.ThreadPoolExecutor()
READY = threading.Event()
JOBS: queue.Queue[str] = queue.Queue()


def render(text: str) -> str:
    return text.upper()


async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    future = EXECUTOR.submit(render, "hi")
    text = future.result()  # expect: SP306
    READY.wait()  # expect: SP306
    job = JOBS.get()  # expect: SP306
    worker = threading.Thread(target=render, args=("x",))
    worker.start()
    worker.join()  # expect: SP306
    loop = asyncio.get_running_loop()
    done = asyncio.run_coroutine_threadsafe(asyncio.sleep(1), loop).result()  # expect: SP306
    concurrent.futures.wait([future])  # expect: SP306
    await update.effective_message.reply_text(f"{text} {job} {done}")


async def fine(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    future = EXECUTOR.submit(render, "hi")
    text = await asyncio.wrap_future(future)
    await asyncio.to_thread(READY.wait)
    await update.effective_message.reply_text(text)
