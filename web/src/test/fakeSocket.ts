/**
 * Stand-ins for the browser's WebSocket that the test drives as the server would, speaking
 * graphql-transport-ws: each socket opens, and acknowledges connection_init, on its own; the
 * test reads what the client sent and pushes what the server sends.
 */
export function fakeWebSockets() {
  const sockets: FakeSocket[] = [];

  class FakeSocket {
    static readonly CONNECTING = 0;
    static readonly OPEN = 1;
    static readonly CLOSING = 2;
    static readonly CLOSED = 3;

    readyState = FakeSocket.CONNECTING;
    /** Every message the client sent, parsed. */
    readonly sent: Array<{ id?: string; type: string; payload?: { variables?: Record<string, unknown> } }> = [];
    onopen: ((event: unknown) => void) | null = null;
    onclose: ((event: { code: number; reason: string; wasClean: boolean }) => void) | null = null;
    onerror: ((event: unknown) => void) | null = null;
    onmessage: ((event: { data: string }) => void) | null = null;

    constructor(
      readonly url: string,
      readonly protocol?: string | string[],
    ) {
      sockets.push(this);
      setTimeout(() => {
        if (this.readyState !== FakeSocket.CONNECTING) return;
        this.readyState = FakeSocket.OPEN;
        this.onopen?.({});
      }, 0);
    }

    send(data: string) {
      const message = JSON.parse(data) as FakeSocket['sent'][number];
      this.sent.push(message);
      if (message.type === 'connection_init') setTimeout(() => this.push({ type: 'connection_ack' }), 0);
    }

    close(code = 1000, reason = '') {
      if (this.readyState === FakeSocket.CLOSED) return;
      this.readyState = FakeSocket.CLOSED;
      this.onclose?.({ code, reason, wasClean: true });
    }

    /** Sends a message from the server. */
    push(message: unknown) {
      if (this.readyState === FakeSocket.OPEN) this.onmessage?.({ data: JSON.stringify(message) });
    }

    /** The subscribe messages the client sent on this socket. */
    subscribes() {
      return this.sent.filter((m) => m.type === 'subscribe');
    }

    /** Sends a result for the operation of the latest subscribe message. */
    next(payload: unknown) {
      this.push({ id: this.subscribes().at(-1)?.id, type: 'next', payload });
    }

    /** Completes the operation of the latest subscribe message. */
    complete() {
      this.push({ id: this.subscribes().at(-1)?.id, type: 'complete' });
    }

    /** The server goes away: 1012 "service restart" is what a client sees of a replica restarting. */
    drop(code = 1012, reason = 'service restart') {
      this.close(code, reason);
    }
  }

  return { WebSocket: FakeSocket, sockets };
}
