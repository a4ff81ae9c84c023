"""requests + concurrent.futures.ProcessPoolExecutor: the original experiment's second setup.

A pool of `concurrency` processes; each attempt is `pool.submit` (URL pickled out, reply
pickled back); a done-callback in this process writes the reply. `requests.get` per URL for
`fresh`, one `Session` per worker process for `reuse`.
"""

from concurrent.futures import ProcessPoolExecutor

import crawlbench_protocol as p


if __name__ == "__main__":
    p.hello(p.python_runtime("ProcessPoolExecutor"), p.versions("requests", "urllib3"))
    the_job = p.read_job()
    with ProcessPoolExecutor(max_workers=the_job.concurrency, initializer=p.init_worker,
                             initargs=(the_job,)) as pool:
        for id_, url in p.gets():
            pool.submit(p.fetch_in_worker, id_, url).add_done_callback(
                lambda f: p.emit(f.result())
            )
