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


async def main(kind):
    reader, the_job = await p.open_stdin()
    loop = asyncio.get_running_loop()
    if kind == "threads":
        p.init_worker(the_job)
        pool = ThreadPoolExecutor(max_workers=the_job.concurrency)
    else:
        pool = ProcessPoolExecutor(max_workers=the_job.concurrency, initializer=p.init_worker,
                                   initargs=(the_job,))
    with pool:
        await p.serve_attempts(
            reader, lambda id_, url: loop.run_in_executor(pool, p.fetch_in_worker, id_, url)
        )


if __name__ == "__main__":
    kind = sys.argv[1]
    pool_kind = "ThreadPoolExecutor" if kind == "threads" else "ProcessPoolExecutor"
    p.hello(p.python_runtime(f"asyncio, run_in_executor over a {pool_kind}"),
            p.versions("requests", "urllib3"))
    asyncio.run(main(kind))
