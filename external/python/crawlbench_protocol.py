"""The crawlbench external-backend protocol (PROTOCOL.md, version 1), for Python programs.

Everything the Python backends share and nothing they differ in: reading the job, writing
replies, mapping a client's exceptions onto the harness's error kinds, honouring the job's
resolve map and CA, and one GET attempt with `requests` or with `aiohttp` (body capped, whole
attempt bounded by the job's timeout, redirects never followed). Each backend file is then only
its concurrency model, written the way that library's users write it.
"""

import atexit
import base64
import json
import os
import socket
import ssl
import sys
import tempfile
import threading
import time

PROTOCOL = 1
CHUNK = 64 * 1024


class Job:
    """The job's parameters (the `job` line)."""

    def __init__(self, msg):
        if msg.get("type") != "job" or msg.get("protocol") != PROTOCOL:
            raise SystemExit(f"expected a protocol {PROTOCOL} job line, got {msg!r}")
        self.concurrency = msg["concurrency"]
        self.processes = msg.get("processes")
        self.timeout = msg["timeout_ms"] / 1000.0
        self.max_body = msg["max_body_bytes"]
        self.fresh = msg["connections"] == "fresh"
        self.user_agent = msg["user_agent"]
        self.ca_pem = msg.get("trusted_ca_pem")
        self.resolve = msg.get("resolve") or {}
        # Made once, here: requests keys its connection pools by the CA file's path, so a path
        # made per thread would open a second connection where one pool should reuse the first.
        fd, self.ca_file = tempfile.mkstemp(prefix="crawlbench-ca-", suffix=".pem")
        with os.fdopen(fd, "w") as f:
            f.write(self.ca_pem or "")
        atexit.register(_remove, self.ca_file, os.getpid())

    def ssl_context(self):
        """A client context trusting only the job's CA — never the system roots."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.ca_pem:
            ctx.load_verify_locations(cadata=self.ca_pem)
        return ctx

    def install_resolve(self):
        """Send the job's names to its addresses (curl's --resolve) for every client in this
        process: the name stays in the URL, so Host, SNI and the certificate check use it."""
        if not self.resolve:
            return
        table = {name.lower(): addr for name, addr in self.resolve.items()}
        real = socket.getaddrinfo

        def getaddrinfo(host, port, *args, **kwargs):
            if isinstance(host, bytes):
                host = host.decode()
            mapped = table.get((host or "").lower().rstrip("."))
            return real(mapped or host, port, *args, **kwargs)

        socket.getaddrinfo = getaddrinfo


def _remove(path, owner):
    if os.getpid() == owner:  # not from a forked pool worker
        try:
            os.unlink(path)
        except OSError:
            pass


def hello(runtime, client):
    """Line 1: the protocol version and the exact stack loaded."""
    emit({"type": "hello", "protocol": PROTOCOL, "runtime": runtime, "client": client})


def python_runtime(model):
    v = sys.version_info
    return f"CPython {v.major}.{v.minor}.{v.micro} ({model})"


_out = sys.stdout.buffer
_out_lock = threading.Lock()


def emit(msg):
    """Writes one line; safe from any thread."""
    line = json.dumps(msg, separators=(",", ":")).encode() + b"\n"
    with _out_lock:
        _out.write(line)
        _out.flush()


def read_job():
    """Reads the `job` line (after `hello`)."""
    return Job(json.loads(sys.stdin.buffer.readline()))


async def open_stdin():
    """For asyncio programs: a StreamReader on stdin and the job, read through it (reading the
    job through `sys.stdin` first would strand the lines its buffer read ahead)."""
    import asyncio

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader, Job(json.loads(await reader.readline()))


async def serve_attempts(reader, attempt):
    """For asyncio programs: a task per `get` line, as soon as it arrives, each awaiting
    `attempt(id, url)` (a coroutine returning the reply) and writing the reply; returns when
    stdin is closed and every task has replied. How many run at once, and where, is `attempt`'s
    business: that is the concurrency model."""
    import asyncio

    tasks = set()

    async def reply(id_, url):
        emit(await attempt(id_, url))

    while line := await reader.readline():
        task = asyncio.create_task(reply(*parse_get(line)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)


def gets():
    """The `get` lines, as (id, url), until the harness closes stdin."""
    for line in sys.stdin.buffer:
        yield parse_get(line)


def parse_get(line):
    """One `get` line as (id, url); anything else ends the program, saying what it got."""
    msg = json.loads(line)
    if msg.get("type") != "get":
        raise SystemExit(f"expected a get line, got {msg!r}")
    return msg["id"], msg["url"]


def response(id_, status, location, content_type, body):
    return {
        "type": "response",
        "id": id_,
        "status": status,
        "location": location,
        "content_type": content_type,
        "body": base64.b64encode(body).decode("ascii"),
    }


def error(id_, kind, detail, partial=None):
    msg = {"type": "error", "id": id_, "kind": kind, "detail": detail}
    if partial is not None:
        msg["partial_body"] = base64.b64encode(partial).decode("ascii")
    return msg


def too_large(id_, job, body):
    return error(
        id_, "body_too_large", f"body larger than the {job.max_body}-byte limit",
        bytes(body[: job.max_body]),
    )


def _chain(exc):
    """The exception and everything it wraps: causes, contexts, urllib3's `reason`, exceptions
    passed as arguments (clients wrap the OS error that says most several layers deep)."""
    seen, todo = [], [exc]
    while todo:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [e.__cause__, e.__context__, getattr(e, "reason", None), getattr(e, "os_error", None)]
        todo += [a for a in e.args if isinstance(a, BaseException)]
    return seen


def _kind_of_chain(exc, body_started):
    """The error kind for an exception anywhere in a client's wrapping."""
    chain = _chain(exc)
    names = " ".join(type(e).__name__ for e in chain)
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, (ssl.SSLError, ssl.CertificateError)) for e in chain) or "certificate" in text or "ssl" in names.lower():
        return "tls"
    if any(isinstance(e, TimeoutError) for e in chain) or "Timeout" in names or "timed out" in text:
        return "timeout"
    if body_started:
        return "truncated"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return "connect"
    if any(isinstance(e, (ConnectionResetError, BrokenPipeError)) for e in chain) or "Disconnected" in names or "aborted" in text or "reset" in text:
        return "reset"
    if "IncompleteRead" in names or "Payload" in names or "ChunkedEncoding" in names:
        return "truncated"
    if "NewConnection" in names or "Connector" in names or "connect" in text:
        return "connect"
    if "BadStatusLine" in names or "HeaderParsing" in names or "InvalidHeader" in names or "Parse" in names or "invalid" in text:
        return "invalid_response"
    return "other"


def fail(id_, exc, body_started):
    return error(id_, _kind_of_chain(exc, body_started), f"{type(exc).__name__}: {exc}")


# ---- requests ------------------------------------------------------------------------------

def requests_session(job):
    """A keep-alive session for one thread or process (requests' sessions are not shared
    across threads)."""
    import requests

    session = requests.Session()
    session.headers["User-Agent"] = job.user_agent
    return session


_thread = threading.local()


def fetch_requests_in_thread(job, id_, url):
    """One attempt with requests from a pool's thread (or process): `requests.get` for `fresh`,
    else this thread's own `Session`, made on its first attempt."""
    session = None
    if not job.fresh:
        session = getattr(_thread, "session", None)
        if session is None:
            session = _thread.session = requests_session(job)
    return fetch_requests(job, session, id_, url)


_worker_job = None


def init_worker(job):
    """A pool worker's initializer (a process pool's `initializer`, or called once for threads):
    the job for `fetch_in_worker`, and its resolve map installed in this process."""
    global _worker_job
    _worker_job = job
    job.install_resolve()


def fetch_in_worker(id_, url):
    """One attempt in a pool worker set up by `init_worker` (a plain function, so a process pool
    can pickle it by name)."""
    return fetch_requests_in_thread(_worker_job, id_, url)


def fetch_requests(job, session, id_, url):
    """One attempt with requests: `requests.get` (a new connection) when `session` is None."""
    import requests

    started = time.monotonic()
    body_started = False
    try:
        get = session.get if session is not None else requests.get
        with get(
            url,
            stream=True,
            allow_redirects=False,
            timeout=job.timeout,
            verify=job.ca_file,
            headers={"User-Agent": job.user_agent},
        ) as r:
            body_started = True
            body = bytearray()
            # iter_content, not r.raw: with allow_redirects=False requests still reads a 3xx
            # body itself (to find the next hop), so only iter_content sees that body.
            for chunk in r.iter_content(CHUNK):
                body += chunk
                if len(body) > job.max_body:
                    return too_large(id_, job, body)
                if time.monotonic() - started > job.timeout:
                    return error(id_, "timeout", f"no complete response within {job.timeout} s")
            return response(id_, r.status_code, r.headers.get("Location"),
                            r.headers.get("Content-Type"), bytes(body))
    except Exception as exc:  # every failure is an outcome, classified
        return fail(id_, exc, body_started)


# ---- aiohttp -------------------------------------------------------------------------------

def aiohttp_session(job, limit):
    """A session whose connector matches the job: `limit` connections (0: no limit), a new
    connection per request for `fresh`, only the job's CA trusted."""
    import aiohttp

    connector = aiohttp.TCPConnector(
        limit=limit,
        limit_per_host=0,
        force_close=job.fresh,
        ssl=job.ssl_context(),
    )
    session = aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=job.timeout),
        headers={"User-Agent": job.user_agent},
        auto_decompress=False,
    )
    # Since 3.10 aiohttp silently resends an idempotent request once when a kept-alive
    # connection fails, behind the caller's back; the harness owns retries (and counts them), so
    # that is switched off. It has no public switch: this private flag is the one it reads.
    if not hasattr(session, "_retry_connection"):
        raise SystemExit("this aiohttp has no _retry_connection flag: check its hidden retries")
    session._retry_connection = False
    return session


async def fetch_aiohttp(job, session, id_, url):
    """One attempt with aiohttp."""
    body_started = False
    try:
        async with session.get(url, allow_redirects=False) as r:
            body_started = True
            body = bytearray()
            async for chunk in r.content.iter_chunked(CHUNK):
                body += chunk
                if len(body) > job.max_body:
                    return too_large(id_, job, body)
            return response(id_, r.status, r.headers.get("Location"),
                            r.headers.get("Content-Type"), bytes(body))
    except Exception as exc:  # every failure is an outcome, classified
        return fail(id_, exc, body_started)


def versions(*modules):
    out = []
    for m in modules:
        mod = __import__(m)
        out.append(f"{m} {mod.__version__}")
    return ", ".join(out)
