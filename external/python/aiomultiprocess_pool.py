"""aiomultiprocess: the original experiment's sixth setup — a pool of processes, each running
an asyncio loop with aiohttp.

`processes` workers (the job's count, else one per core), each taking up to
⌈concurrency ÷ processes⌉ attempts at once (`childconcurrency`). This process reads attempts and
awaits `pool.apply(fetch, ...)` for each; every worker keeps one `ClientSession`.
"""

import asyncio
import math
import os

import aiomultiprocess

import crawlbench_protocol as p

job = None
session = None


def init(the_job):
    global job
    job = the_job
    job.install_resolve()


async def fetch(id_, url):
    global session
    if session is None:
        session = p.aiohttp_session(job, 0)
    return await p.fetch_aiohttp(job, session, id_, url)


async def main():
    reader, the_job = await p.open_stdin()
    processes = the_job.processes or os.cpu_count() or 1
    processes = max(1, min(processes, the_job.concurrency))
    per_child = math.ceil(the_job.concurrency / processes)
    async with aiomultiprocess.Pool(processes=processes, childconcurrency=per_child,
                                    initializer=init, initargs=(the_job,)) as pool:
        await p.serve_attempts(reader, lambda id_, url: pool.apply(fetch, (id_, url)))


if __name__ == "__main__":
    p.hello(p.python_runtime("aiomultiprocess pool of asyncio loops"),
            p.versions("aiohttp", "aiomultiprocess"))
    asyncio.run(main())
