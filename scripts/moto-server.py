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

moto also keeps every model object it ever made, for its state dump
(`/moto-api/data.json`, which the mail tests read for SES): with the copies
each transaction makes, the dump grew with every transaction of the run and
slowed every test that reads it. DynamoDB's objects are not kept for it any
more (no test reads DynamoDB from the dump). Everything else is moto's own
server, unchanged.
"""

import sys
import threading

from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.core.model_instances import model_data
from moto.server import main

ONE_AT_A_TIME = threading.Lock()


def serial(call_action):
    def call_action_alone(self):
        with ONE_AT_A_TIME:
            return call_action(self)

    return call_action_alone


for handler in (DynamoHandler, DynamoDBStreamsHandler):
    handler.call_action = serial(handler.call_action)


class Untracked(list):
    """A list of tracked instances that keeps none."""

    def append(self, _instance):
        pass


for service in ("dynamodb", "dynamodbstreams"):
    for model in model_data.get(service, {}).values():
        model.instances_tracked = Untracked()

if __name__ == "__main__":
    sys.exit(main())
