"""requests + concurrent.futures.ThreadPoolExecutor: the original experiment's first setup.

A pool of `concurrency` threads; each attempt is `pool.submit`; a done-callback writes its reply.
`requests.get` per URL (a new connection each, as the original) for `fresh`; one `Session` per
thread (sessions are not thread-safe) for `reuse`.
"""

from concurrent.futures import ThreadPoolExecutor

import crawlbench_protocol as p

p.hello(p.python_runtime("ThreadPoolExecutor"), p.versions("requests", "urllib3"))
job = p.read_job()
job.install_resolve()

with ThreadPoolExecutor(max_workers=job.concurrency) as pool:
    for id_, url in p.gets():
        pool.submit(p.fetch_requests_in_thread, job, id_, url).add_done_callback(
            lambda f: p.emit(f.result())
        )
