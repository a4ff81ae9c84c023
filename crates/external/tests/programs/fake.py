"""A misbehaving external program for the protocol tests (standard library only).

It answers the first three attempts with a 200 and a tiny body, then does what its argument
says: `malformed` (writes a line that is not JSON), `crash` (writes to stderr, exits 3), `hang`
(stops answering), `unknown-id` (answers an attempt never sent), `version` (says protocol 2 in
its hello), `silent` (never says hello), `ok` (answers everything).
"""

import base64
import json
import os
import sys
import time

mode = sys.argv[1]
out = sys.stdout


def send(msg):
    out.write(json.dumps(msg) + "\n")
    out.flush()


if mode == "silent":
    time.sleep(3600)
send({"type": "hello", "protocol": 2 if mode == "version" else 1, "client": "fake 1"})
job = json.loads(sys.stdin.readline())
assert job["type"] == "job", job
answered = 0
for line in sys.stdin:
    msg = json.loads(line)
    if answered == 3 and mode != "ok":
        if mode == "malformed":
            out.write("this is not json\n")
            out.flush()
        elif mode == "crash":
            sys.stderr.write("fake: crashing on purpose\n")
            sys.stderr.flush()
            os._exit(3)
        elif mode == "hang":
            time.sleep(3600)
        elif mode == "unknown-id":
            send({"type": "response", "id": 999999, "status": 200, "body": ""})
        time.sleep(3600)
    send({"type": "response", "id": msg["id"], "status": 200, "content_type": "text/plain",
          "body": base64.b64encode(b"fake body").decode()})
    answered += 1
