"""requests + concurrent.futures.ThreadPoolExecutor: the original experiment's first setup.

A pool of `concurrency` threads; each attempt is `pool.submit`; a done-callback writes its reply.
`requests.get` per URL (a new connection each, as the original) for `fresh`; one `Session` per
thread (sessions are not thread-safe) for `reuse`.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import crawlbench_protocol as p

p.hello(p.python_runtime(f"ThreadPoolExecutor"), p.versions("requests", "urllib3"))
job = p.read_job()
job.install_resolve()
local = threading.local()


def fetch(id_, url):
    session = None
    if not job.fresh:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = p.requests_session(job)
    return p.fetch_requests(job, session, id_, url)


with ThreadPoolExecutor(max_workers=job.concurrency) as pool:
    for id_, url in p.gets():
        pool.submit(fetch, id_, url).add_done_callback(lambda f: p.emit(f.result()))
