/**
 * A small QMP (QEMU Machine Protocol) client over the monitor's unix socket: greeting,
 * qmp_capabilities, then one command at a time. Used for status, link carrier (set_link) and a
 * clean `quit`; everything else about a VM goes over SSH or the serial console.
 */
import { connect } from 'node:net';

export class QmpError extends Error {}

/** Runs QMP commands in order on a fresh connection; resolves with their `return` values. */
export async function qmp(
  socketPath: string,
  commands: { execute: string; arguments?: Record<string, unknown> }[],
  timeoutMs = 3000,
): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const sock = connect({ path: socketPath });
    const results: unknown[] = [];
    let buf = '';
    let greeted = false;
    let sent = -1; // index of the command whose answer is awaited; -1 = qmp_capabilities
    const timer = setTimeout(
      () => done(new QmpError(`QMP ${socketPath}: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const done = (err?: Error) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(results);
    };
    const sendNext = () => {
      const c = sent === -1 ? { execute: 'qmp_capabilities' } : commands[sent];
      if (!c) return done();
      sock.write(`${JSON.stringify(c)}\n`);
    };
    sock.setEncoding('utf8');
    sock.on('error', (e) => done(new QmpError(`QMP ${socketPath}: ${e.message}`)));
    sock.on('close', () => {
      // `quit` closes the socket before (or instead of) answering: that is its success.
      if (commands[sent]?.execute === 'quit') done();
      else done(new QmpError(`QMP ${socketPath}: connection closed`));
    });
    sock.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        let msg: { QMP?: unknown; return?: unknown; error?: { desc?: string }; event?: string };
        try {
          msg = JSON.parse(line);
        } catch {
          return done(new QmpError(`QMP ${socketPath}: bad message ${line.slice(0, 80)}`));
        }
        if (msg.event) continue;
        if (!greeted) {
          if (!msg.QMP) return done(new QmpError(`QMP ${socketPath}: no greeting`));
          greeted = true;
          sendNext();
          continue;
        }
        if (msg.error) {
          const what = sent === -1 ? 'qmp_capabilities' : commands[sent]?.execute;
          return done(new QmpError(`QMP ${what}: ${msg.error.desc ?? 'error'}`));
        }
        if (sent >= 0) results.push(msg.return);
        sent++;
        sendNext();
      }
    });
  });
}
