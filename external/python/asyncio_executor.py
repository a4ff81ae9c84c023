"""asyncio + requests in `loop.run_in_executor`: the original experiment's third and fourth
setups, over a ThreadPoolExecutor (`threads`) or a ProcessPoolExecutor (`processes`).

The event loop reads attempts from stdin and starts a task for each; the task awaits
`run_in_executor(pool, fetch, ...)` — requests blocking in the pool's workers — and writes the
reply. The pool has `concurrency` workers; connections as in requests_threads.py.
"""

import asyncio
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import crawlbench_protocol as p

job = None


def init(the_job):
    global job
    job = the_job
    job.install_resolve()


def fetch(id_, url):
    return p.fetch_requests_in_thread(job, id_, url)


async def main(kind):
    reader, the_job = await p.open_stdin()
    loop = asyncio.get_running_loop()
    if kind == "threads":
        init(the_job)
        pool = ThreadPoolExecutor(max_workers=the_job.concurrency)
    else:
        pool = ProcessPoolExecutor(max_workers=the_job.concurrency, initializer=init,
                                   initargs=(the_job,))
    with pool:
        await p.serve_attempts(
            reader, lambda id_, url: loop.run_in_executor(pool, fetch, id_, url)
        )


if __name__ == "__main__":
    kind = sys.argv[1]
    pool_kind = "ThreadPoolExecutor" if kind == "threads" else "ProcessPoolExecutor"
    p.hello(p.python_runtime(f"asyncio, run_in_executor over a {pool_kind}"),
            p.versions("requests", "urllib3"))
    asyncio.run(main(kind))
