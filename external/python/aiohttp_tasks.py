"""asyncio + aiohttp on one thread: the original experiment's fifth setup.

`gather`: as the original — every attempt a coroutine started at once (here, as soon as the
harness sends it), nothing in the program bounding how many run; the connector has no limit.
`bounded`: an `asyncio.Semaphore(concurrency)` around each attempt and the connector limited to
`concurrency` connections, as aiohttp's documentation advises for crawlers.
One `ClientSession` for the run; `force_close` (a new connection per request) for `fresh`.
"""

import asyncio
import sys

import crawlbench_protocol as p


async def main(bounded):
    reader, job = await p.open_stdin()
    job.install_resolve()
    semaphore = asyncio.Semaphore(job.concurrency) if bounded else None
    async with p.aiohttp_session(job, job.concurrency if bounded else 0) as session:

        async def attempt(id_, url):
            if semaphore is None:
                return await p.fetch_aiohttp(job, session, id_, url)
            async with semaphore:
                return await p.fetch_aiohttp(job, session, id_, url)

        await p.serve_attempts(reader, attempt)


if __name__ == "__main__":
    bounded = sys.argv[1] == "bounded"
    p.hello(p.python_runtime("asyncio, one thread" + (", Semaphore" if bounded else ", gather")),
            p.versions("aiohttp"))
    asyncio.run(main(bounded))
