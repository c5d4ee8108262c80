/**
 * Plain-TCP data source and sink: a bounded application send buffer feeding the TCB, and receive
 * accounting that turns unconsumed bytes into a closing window. The MPTCP layer brings its own
 * (the connection's shared send buffer and data-level reassembly) instead.
 */
import type { ByteRing } from './ring';
import type { Tcb, TcbSink, TcbSource } from './tcb';

export class SendBuffer implements TcbSource {
  /**
   * Bytes written go straight into the TCB's retransmission store as unsent data (one copy, no
   * pull); `limit` bounds what the TCB holds, unsent plus unacknowledged.
   */
  constructor(public limit: number) {}

  /** Room for new bytes. */
  room(tcb: Tcb): number {
    return Math.max(this.limit - tcb.sndQueued, 0);
  }

  /** Queues as much of `data` as fits; returns the count accepted. */
  write(tcb: Tcb, data: Uint8Array): number {
    const n = Math.min(data.length, this.room(tcb));
    if (n > 0) tcb.sndRing.push(data, 0, n);
    return n;
  }

  available(_tcb: Tcb): number {
    return 0;
  }

  pull(_tcb: Tcb, _maxBytes: number, _out: ByteRing): unknown {
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
