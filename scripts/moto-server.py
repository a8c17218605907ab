"""moto's server, with its DynamoDB made serial, for the tests.

    .venv/bin/python scripts/moto-server.py -H 127.0.0.1 -p PORT

moto serves each request on a thread of its own, and its DynamoDB is not
safe for that: TransactWriteItems deep-copies the table to restore it if
the transaction is cancelled, so a cancelled transaction erases the
commits that other threads made meanwhile, and a copy taken while another
thread writes fails ("dictionary changed size during iteration", a 500).
Real DynamoDB isolates transactions. One lock around every DynamoDB and
DynamoDB Streams request gives moto that isolation, so that a test under
concurrent load measures the service, not the emulator.

A cancelled transaction is undone item by item instead (below): moto's own
undo deep-copies every table the transaction names, on every transaction,
cancelled or not, so a transaction took 20 ms on a table of 200 items and
100 ms at 600, growing with the test. With a serial DynamoDB that made a
writer in a loop hold moto nearly all the time, and a second instance's
writer, retrying a lost race on the user's sync counter, trailed it in
step: an emulator artefact (real DynamoDB's transactions take the same few
milliseconds at any size) that made the test of concurrent writers flaky.

moto also keeps every model object it ever made, for its state dump
(`/moto-api/data.json`, which the mail tests read for SES): with the copies
each transaction makes, the dump grew with every transaction of the run and
slowed every test that reads it. DynamoDB's objects are not kept for it any
more (no test reads DynamoDB from the dump). Everything else is moto's own
server, unchanged.
"""

import copy
import sys
import threading

from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.core.model_instances import model_data
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.server import main

ONE_AT_A_TIME = threading.Lock()


def serial(call_action):
    def call_action_alone(self):
        with ONE_AT_A_TIME:
            return call_action(self)

    return call_action_alone


for handler in (DynamoHandler, DynamoDBStreamsHandler):
    handler.call_action = serial(handler.call_action)


class TablesNotCopied:
    """`copy` as moto's DynamoDB backend sees it: a table is its own
    "copy", so moto's undo of a cancelled transaction restores nothing and
    `transact_write_items` below does it."""

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


dynamodb_models.copy = TablesNotCopied
moto_transact_write_items = DynamoDBBackend.transact_write_items


def item_place(table, op):
    """The table's dict holding the item a transaction's `op` writes, and
    the item's key in it."""
    attrs = op["Item"] if "Item" in op else op["Key"]
    hash_key = DynamoType(attrs[table.hash_key_attr])
    if table.range_key_attr is None:
        return table.items, hash_key
    return table.items[hash_key], DynamoType(attrs[table.range_key_attr])


def transact_write_items(self, transact_items):
    """moto's transaction, with what it wrote undone if it is cancelled:
    each item it names as it was, each stream cut back to its length."""
    before = []
    streams = {}
    for entry in transact_items:
        op = next(iter(entry.values()))
        table = self.tables.get(op.get("TableName"))
        if table is None or ("Item" not in op and "Key" not in op):
            continue
        try:
            place, key = item_place(table, op)
        except KeyError:
            continue  # no key: moto refuses the transaction itself
        before.append((place, key, copy.deepcopy(place.get(key))))
        if table.stream_shard is not None:
            streams.setdefault(table.stream_shard, len(table.stream_shard.items))
    try:
        return moto_transact_write_items(self, transact_items)
    except Exception:
        for place, key, item in reversed(before):
            if item is None:
                place.pop(key, None)
            else:
                place[key] = item
        for shard, length in streams.items():
            del shard.items[length:]
        raise


DynamoDBBackend.transact_write_items = transact_write_items


class Untracked(list):
    """A list of tracked instances that keeps none."""

    def append(self, _instance):
        pass


for service in ("dynamodb", "dynamodbstreams"):
    for model in model_data.get(service, {}).values():
        model.instances_tracked = Untracked()

if __name__ == "__main__":
    sys.exit(main())
