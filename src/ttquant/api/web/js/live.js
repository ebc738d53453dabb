// The live feed: one WebSocket to /api/v1/ws, a snapshot then numbered deltas per topic.
//
// The server numbers each topic's messages with one sequence shared by all clients. A delta
// whose number is not the last one plus one means something was missed: the topic is subscribed
// again, which brings a fresh snapshot. No heartbeat for a few periods, or a closed socket,
// means reconnecting with backoff; every topic is re-subscribed (so re-snapshotted) then.

const HEARTBEAT_GRACE_MS = 20000;
const CLOSE_UNAUTHORIZED = 4401;

export class LiveFeed {
  constructor(credential, { onSnapshot, onDelta, onStatus, onUnauthorized }) {
    this.credential = credential;
    this.handlers = { onSnapshot, onDelta, onStatus, onUnauthorized };
    this.topics = new Set();
    this.available = new Set();
    this.seq = new Map();
    this.socket = null;
    this.backoff = 500;
    this.lastHeard = 0;
    this.closed = false;
    this.watchdog = setInterval(() => this.checkHeartbeat(), 2000);
  }

  subscribe(topics) {
    for (const topic of topics) this.topics.add(topic);
    this.send({ op: "subscribe", topics: this.subscribable(topics) });
  }

  subscribable(topics) {
    return this.available.size ? topics.filter((t) => this.available.has(t)) : topics;
  }

  connect() {
    if (this.closed) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/ws`);
    this.socket = socket;
    this.status("connecting");
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ op: "auth", token: this.credential }));
    });
    socket.addEventListener("message", (event) => {
      this.lastHeard = Date.now();
      for (const line of String(event.data).split("\n")) {
        if (line) this.handle(JSON.parse(line));
      }
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (event.code === CLOSE_UNAUTHORIZED) {
        this.status("signed out");
        if (this.handlers.onUnauthorized) this.handlers.onUnauthorized();
        return;
      }
      this.status("reconnecting");
      if (!this.closed) {
        setTimeout(() => this.connect(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, 10000);
      }
    });
  }

  handle(message) {
    switch (message.type) {
      case "welcome": {
        this.backoff = 500;
        this.available = new Set(message.topics || []);
        this.status("live");
        this.seq.clear();
        const topics = this.subscribable([...this.topics]);
        if (topics.length) this.send({ op: "subscribe", topics });
        break;
      }
      case "snapshot":
        this.seq.set(message.topic, message.seq);
        this.handlers.onSnapshot(message.topic, message.data);
        break;
      case "delta": {
        const last = this.seq.get(message.topic);
        if (last === undefined) return; // a delta before its snapshot: the snapshot covers it
        if (message.seq <= last) return; // already in the snapshot
        if (message.seq !== last + 1) {
          this.seq.delete(message.topic);
          this.send({ op: "subscribe", topics: [message.topic] });
          return;
        }
        this.seq.set(message.topic, message.seq);
        this.handlers.onDelta(message.topic, message.data);
        break;
      }
      case "error":
        console.warn("live feed:", message.message);
        break;
      default:
        break; // heartbeat, pong
    }
  }

  checkHeartbeat() {
    const socket = this.socket;
    if (socket && socket.readyState === WebSocket.OPEN && Date.now() - this.lastHeard > HEARTBEAT_GRACE_MS) {
      socket.close(); // the close handler reconnects
    }
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN && this.available.size) {
      this.socket.send(JSON.stringify(message));
    }
  }

  status(text) {
    if (this.handlers.onStatus) this.handlers.onStatus(text);
  }

  close() {
    this.closed = true;
    clearInterval(this.watchdog);
    if (this.socket) this.socket.close();
  }
}
