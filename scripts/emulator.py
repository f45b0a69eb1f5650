#!/usr/bin/env python3
"""moto's server, answering one request at a time.

moto's DynamoDB applies a conditional UpdateItem in several unlocked steps, so two
concurrent ones can both read the old value: under the test suite's parallel load, 50
parallel increments came back with duplicate counts. Real DynamoDB makes each conditional
write atomic, and AuthKit's limits rely on that, so the emulator is serialised here rather
than the tests weakened. Connections are still accepted in parallel.

moto's TransactWriteItems also deep-copies every table it touches, whole, before each
transaction, to restore it if the transaction is cancelled, and the copies are not all
given back: with a few thousand items a transaction took 2.5 MB more each time, and the
fault suite's long run grew moto past 7 GB (and slower with every table it copied). Here
the transaction keeps only the items it names, and restores those (and trims their
tables' stream records) when it is cancelled: the same all-or-nothing outcome, since
requests are serialised anyway.

usage: emulator.py HOST PORT"""
import copy
import os
import sys
import threading

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.dynamo_type import DynamoType
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


class _TablesByReference:
    """`copy` as moto's transact_write_items sees it: tables are not copied."""

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, dynamodb_models.Table) else copy.deepcopy(value, memo)


def _key_of(table, op):
    attrs = op.get("Key") or op.get("Item") or {}
    hash_key = DynamoType(attrs[table.hash_key_attr])
    range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    return hash_key, range_key


def _transact_write_items(original):
    def transact_write_items(self, transact_items):
        saved = []
        for entry in transact_items:
            op = next(iter(entry.values()), {})
            table = self.tables.get(op.get("TableName"))
            try:
                hash_key, range_key = _key_of(table, op)
            except (AttributeError, KeyError):
                continue  # moto reports the malformed request itself
            stream = table.stream_shard.items if table.stream_shard is not None else None
            saved.append((table, hash_key, range_key,
                          copy.deepcopy(table.get_item(hash_key, range_key)),
                          len(stream) if stream is not None else None))
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item, streamed in reversed(saved):
                if range_key is None:
                    table.items.pop(hash_key, None)
                    if item is not None:
                        table.items[hash_key] = item
                else:
                    partition = table.items.get(hash_key, {})
                    partition.pop(range_key, None)
                    if item is not None:
                        table.items[hash_key][range_key] = item
                    elif not partition:
                        table.items.pop(hash_key, None)
                if streamed is not None:
                    del table.stream_shard.items[streamed:]
            raise

    return transact_write_items


dynamodb_models.copy = _TablesByReference
dynamodb_models.DynamoDBBackend.transact_write_items = _transact_write_items(
    dynamodb_models.DynamoDBBackend.transact_write_items
)


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))  # moto builds some URLs from it
    run_simple(host, port, OneAtATime(DomainDispatcherApplication(create_backend_app)), threaded=True)
