#!/usr/bin/env python3
"""moto's server, answering one request at a time.

moto's DynamoDB applies a conditional UpdateItem in several unlocked steps, so two
concurrent ones can both read the old value: under the test suite's parallel load, 50
parallel increments came back with duplicate counts. Real DynamoDB makes each conditional
write atomic, and AuthKit's limits rely on that, so the emulator is serialised here rather
than the tests weakened. Connections are still accepted in parallel.

usage: emulator.py HOST PORT"""
import os
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


class OneAtATime:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # The body is produced inside the lock: moto builds it while handling.
            return list(self.app(environ, start_response))


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))  # moto builds some URLs from it
    run_simple(host, port, OneAtATime(DomainDispatcherApplication(create_backend_app)), threaded=True)
