// An offline-first to-do app's sync, written against the types that
// openapi-typescript generates from the service's /openapi.json and sent
// with openapi-fetch: what a React Native app would do. Two devices of one
// user; one edits offline and sends its queue as a numbered batch, the
// other edits online; both end holding exactly what the service holds.
//
//   node dist/scenario.js BASE_URL TOKEN
//
// Exits non-zero, saying why, at the first thing that is not as expected.

import createClient from "openapi-fetch";
import type { components, paths } from "./api.js";

type Todo = components["schemas"]["Todo"];
type Operation = components["schemas"]["Operation"];
type Problem = components["schemas"]["Problem"];

const [baseUrl, token] = process.argv.slice(2);
if (!baseUrl || !token) throw new Error("usage: scenario.js BASE_URL TOKEN");

const api = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`not as expected: ${what}`);
}

/** One device: its todos by id, where it stands, its queue while offline. */
class Device {
  todos = new Map<string, Todo>();
  since: string | undefined;
  queue: Operation[] = [];
  mutationId = 0;

  constructor(readonly clientId: string) {}

  /** Follows `next` while `more`; returns each client's last applied batch. */
  async sync(): Promise<Record<string, number>> {
    for (;;) {
      const query = this.since === undefined ? { limit: 50 } : { since: this.since, limit: 50 };
      const { data, error } = await api.GET("/todos/changes", { params: { query } });
      check(data !== undefined, `a sync answers 200 (${JSON.stringify(error)})`);
      for (const change of data.changes) {
        if (change.deleted) this.todos.delete(change.id);
        else if (change.todo) this.todos.set(change.id, change.todo);
      }
      this.since = data.next;
      if (!data.more) return data.clients;
    }
  }

  /** Sends the offline queue as one numbered batch. */
  async flush(): Promise<components["schemas"]["BatchResults"]> {
    this.mutationId += 1;
    const body = { client_id: this.clientId, mutation_id: this.mutationId, operations: this.queue };
    const { data, error } = await api.POST("/todos/batch", { body });
    check(data !== undefined, `the batch applies (${JSON.stringify(error)})`);
    this.queue = [];
    return data;
  }
}

const phone = new Device("phone");
const tablet = new Device("tablet");
await phone.sync();
await tablet.sync();

// The tablet is online: it makes a todo the phone will see.
const shared = await api.POST("/todos", { body: { title: "Book the dentist" } });
check(shared.data !== undefined, "a create answers 201");
const dentist = shared.data.id;

// The phone is offline: it names its own todos and queues every edit.
await phone.sync();
check(phone.todos.has(dentist), "the phone sees the tablet's todo");
const milk = crypto.randomUUID();
const call = crypto.randomUUID();
const offline: Operation[] = [
  { op: "create", id: milk, todo: { title: "Buy milk" } },
  { op: "create", id: call, todo: { title: "Call Sam", notes: "about Friday" } },
  { op: "update", id: milk, changes: { completed: true } },
  { op: "update", id: dentist, if_version: 1, changes: { notes: "Tuesday, 9:00" } },
  { op: "delete", id: call },
];
phone.queue.push(...offline);
const answer = await phone.flush();
check(answer.results.length === 5, "one result per operation");
const [first] = answer.results;
check(first?.op === "create" && first.todo.id === milk, "the phone's own id comes back");

// The answer was lost on the way: the phone sends the same batch again and
// gets the same answer, applied once.
const resent = await api.POST("/todos/batch", {
  body: { client_id: phone.clientId, mutation_id: phone.mutationId, operations: offline },
});
check(JSON.stringify(resent.data) === JSON.stringify(answer), "a resent batch gets its first answer");

// Meanwhile the tablet edited the dentist todo from the version it had:
// 412, with the current todo to merge with.
const stale = await api.PATCH("/todos/{id}", {
  params: { path: { id: dentist } },
  headers: { "If-Match": '"v1"' },
  body: { title: "Book the dentist (urgent)" },
});
check(stale.response.status === 412, "a stale edit is refused");
const problem: Problem | undefined = stale.error;
check(problem?.current_version === 2, "the 412 says the current version");

// The tablet syncs, sees all of the phone's work, and deletes the milk.
const clients = await tablet.sync();
check(clients.phone === 1, "sync reports the phone's last applied batch");
check(tablet.todos.get(milk)?.completed === true, "the tablet sees the offline edit");
check(!tablet.todos.has(call), "a todo made and deleted offline never shows");
const removed = await api.DELETE("/todos/{id}", { params: { path: { id: milk } } });
check(removed.response.status === 204, "a delete answers 204");

// The phone syncs: the deletion reaches it as a tombstone.
await phone.sync();
check(!phone.todos.has(milk), "the phone hears of the deletion");
check(phone.todos.get(dentist)?.notes === "Tuesday, 9:00", "the phone keeps its edit");

// Both devices hold exactly what a fresh device would.
const fresh = new Device("fresh");
await fresh.sync();
await tablet.sync();
const shape = (device: Device) => JSON.stringify([...device.todos.entries()].sort());
check(shape(phone) === shape(fresh) && shape(tablet) === shape(fresh), "all devices agree");
console.log(`typed client: ${fresh.todos.size} todos agree on 3 devices`);
