/**
 * Plain-TCP data source and sink: a bounded application send buffer feeding the TCB, and receive
 * accounting that turns unconsumed bytes into a closing window. The MPTCP layer brings its own
 * (the connection's shared send buffer and data-level reassembly) instead.
 */
import { ByteRing } from './ring';
import type { Tcb, TcbSink, TcbSource } from './tcb';

export class SendBuffer implements TcbSource {
  readonly ring = new ByteRing(16 * 1024);

  /** `limit` bounds the bytes held: queued here plus unacknowledged in the TCB. */
  constructor(public limit: number) {}

  /** Room for new bytes given what the TCB still holds for retransmission. */
  room(tcb: Tcb): number {
    return Math.max(this.limit - this.ring.length - tcb.sndQueued, 0);
  }

  /** Queues as much of `data` as fits; returns the count accepted. */
  write(tcb: Tcb, data: Uint8Array): number {
    const n = Math.min(data.length, this.room(tcb));
    if (n > 0) this.ring.push(data, 0, n);
    return n;
  }

  available(_tcb: Tcb): number {
    return this.ring.length;
  }

  pull(_tcb: Tcb, maxBytes: number, out: ByteRing): unknown {
    this.ring.moveTo(out, maxBytes);
    return undefined;
  }
}

export class RecvBuffer implements TcbSink {
  /** Delivered to the application but not yet consumed. */
  unconsumed = 0;

  constructor(
    public limit: number,
    private readonly onData: (tcb: Tcb, data: Uint8Array, now: number) => void,
  ) {}

  deliver(tcb: Tcb, data: Uint8Array, _seq: number, now: number): void {
    this.unconsumed += data.length;
    this.onData(tcb, data, now);
  }

  window(_tcb: Tcb): number {
    return Math.max(this.limit - this.unconsumed, 0);
  }

  consume(n: number): void {
    this.unconsumed = Math.max(this.unconsumed - n, 0);
  }
}
