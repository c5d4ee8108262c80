import { describe, expect, it } from 'vitest';
import { formatEndpoint, PathManager } from '../../../stack/pm';

const master = { srcAddr: '10.0.1.1', dstAddr: '10.0.2.1', srcPort: 40000, dstPort: 80 };

describe('path manager', () => {
  it('ndiffports=4 wants 4 rows over one address pair, distinct ports once built', () => {
    const pm = new PathManager({ strategy: 'ndiffports', ndiffports: 4 }, ['10.0.1.1', '10.0.3.1']);
    pm.addConnection(0xabc, master, true);
    expect(pm.takeActions(0xabc)).toEqual([]); // ndiffports announces nothing
    const todo = pm.nextToBuild(0xabc, 0);
    expect(todo.map((r) => r.pathIndex)).toEqual([2, 3, 4]);
    for (const r of todo) {
      expect(r.endpoint).toEqual({ srcAddr: '10.0.1.1', dstAddr: '10.0.2.1', srcPort: 0, dstPort: 80 });
    }
    let port = 40001;
    for (const r of todo) pm.built(0xabc, r.pathIndex, port++);
    for (const r of todo) pm.established(0xabc, r.pathIndex);
    const rows = pm.rows(0xabc);
    expect(rows).toHaveLength(4);
    expect(new Set(rows.map((r) => r.endpoint.srcPort)).size).toBe(4);
    expect(rows.every((r) => r.state === 'established')).toBe(true);
    expect(pm.nextToBuild(0xabc, 0)).toEqual([]);
  });

  it('fullmesh over 2x2 addresses gives the four rows of the design table', () => {
    const pm = new PathManager({ strategy: 'fullmesh', ndiffports: 1 }, ['A1', 'A2']);
    pm.addConnection(1, { srcAddr: 'A1', dstAddr: 'B1', srcPort: 1111, dstPort: 80 }, true, { open: false });
    expect(pm.takeActions(1)).toEqual([{ type: 'announce', id: pm.addressId('A2'), address: 'A2' }]);
    pm.addRemoteAddress(1, { id: 5, address: 'B2' });
    expect(pm.nextToBuild(1, 0)).toEqual([]); // trigger not fired yet
    pm.trigger(1);
    const table = pm.table().map((r) => [r.token, r.pathIndex, formatEndpoint(r.endpoint)]);
    expect(table).toEqual([
      [1, 1, '<A1, B1, 1111, 80>'],
      [1, 2, '<A2, B2, 0, 80>'],
      [1, 3, '<A1, B2, 0, 80>'],
      [1, 4, '<A2, B1, 0, 80>'],
    ]);
    const rows = pm.rows(1);
    expect(rows.map((r) => [r.localId, r.remoteId])).toEqual([
      [0, 0],
      [pm.addressId('A2'), 5],
      [0, 5],
      [pm.addressId('A2'), 0],
    ]);
  });

  it('fullmesh pairs only addresses of the same family', () => {
    const pm = new PathManager({ strategy: 'fullmesh', ndiffports: 1 }, ['10.0.0.1', 'fd00::1']);
    pm.addConnection(2, { srcAddr: '10.0.0.1', dstAddr: '10.0.9.1', srcPort: 1, dstPort: 2 }, true);
    pm.addRemoteAddress(2, { id: 1, address: 'fd00::9' });
    expect(pm.rows(2).map((r) => `${r.endpoint.srcAddr}>${r.endpoint.dstAddr}`)).toEqual([
      '10.0.0.1>10.0.9.1',
      'fd00::1>fd00::9',
    ]);
  });

  it('default strategy opens nothing but records accepted joins; the passive side builds nothing', () => {
    const pm = new PathManager({ strategy: 'default', ndiffports: 1 }, ['B1', 'B2']);
    pm.addConnection(3, { srcAddr: 'B1', dstAddr: 'A1', srcPort: 80, dstPort: 999 }, false);
    expect(pm.takeActions(3)).toEqual([{ type: 'announce', id: pm.addressId('B2'), address: 'B2' }]);
    expect(pm.nextToBuild(3, 0)).toEqual([]);
    const idx = pm.joined(
      3,
      { srcAddr: 'B2', dstAddr: 'A2', srcPort: 80, dstPort: 1234 },
      pm.addressId('B2'),
      7,
      true,
    );
    expect(idx).toBe(2);
    expect(pm.row(3, 2)?.backup).toBe(true);
    const fm = new PathManager({ strategy: 'fullmesh', ndiffports: 1 }, ['B1', 'B2']);
    fm.addConnection(3, { srcAddr: 'B1', dstAddr: 'A1', srcPort: 80, dstPort: 999 }, false);
    fm.addRemoteAddress(3, { id: 2, address: 'A2' });
    expect(fm.nextToBuild(3, 0)).toEqual([]);
    expect(fm.rows(3)).toHaveLength(1);
  });

  it('address ids are stable across removal and return', () => {
    const pm = new PathManager({ strategy: 'fullmesh', ndiffports: 1 }, ['A1', 'A2', 'A3']);
    const id2 = pm.addressId('A2');
    const id3 = pm.addressId('A3');
    pm.setLocalAddresses(['A1', 'A3']);
    pm.setLocalAddresses(['A1', 'A3', 'A4', 'A2']);
    expect(pm.addressId('A2')).toBe(id2);
    expect(pm.addressId('A3')).toBe(id3);
    expect(new Set([pm.addressId('A1'), id2, id3, pm.addressId('A4')]).size).toBe(4);
  });

  it('a vanished local address closes its rows and is withdrawn; its return revives them', () => {
    const pm = new PathManager({ strategy: 'fullmesh', ndiffports: 1 }, ['A1', 'A2']);
    pm.addConnection(4, { srcAddr: 'A1', dstAddr: 'B1', srcPort: 10, dstPort: 80 }, true);
    pm.takeActions(4);
    const [row] = pm.nextToBuild(4, 0);
    expect(row?.endpoint.srcAddr).toBe('A2');
    pm.built(4, 2, 5555);
    pm.established(4, 2);
    pm.setLocalAddresses(['A1']);
    expect(pm.takeActions(4)).toEqual([
      { type: 'close', pathIndex: 2, reason: 'address-removed' },
      { type: 'withdraw', id: pm.addressId('A2') },
    ]);
    expect(pm.row(4, 2)?.state).toBe('removed');
    expect(pm.nextToBuild(4, 0)).toEqual([]);
    pm.setLocalAddresses(['A1', 'A2']);
    expect(pm.takeActions(4)).toEqual([{ type: 'announce', id: pm.addressId('A2'), address: 'A2' }]);
    const again = pm.nextToBuild(4, 0);
    expect(again.map((r) => [r.pathIndex, r.endpoint.srcPort])).toEqual([[2, 0]]);
  });

  it('REMOVE_ADDR closes the rows toward that remote address', () => {
    const pm = new PathManager({ strategy: 'fullmesh', ndiffports: 1 }, ['A1']);
    pm.addConnection(5, { srcAddr: 'A1', dstAddr: 'B1', srcPort: 10, dstPort: 80 }, true);
    pm.addRemoteAddress(5, { id: 3, address: 'B2', port: 8080 });
    expect(pm.row(5, 2)?.endpoint).toEqual({ srcAddr: 'A1', dstAddr: 'B2', srcPort: 0, dstPort: 8080 });
    pm.built(5, 2, 777);
    pm.established(5, 2);
    pm.takeActions(5);
    pm.removeRemoteAddress(5, 3);
    expect(pm.takeActions(5)).toEqual([{ type: 'close', pathIndex: 2, reason: 'remote-removed' }]);
    expect(pm.remoteAddresses(5).map((r) => r.id)).toEqual([0]);
  });

  it('failed paths are retried with exponential backoff, up to a limit; the master never', () => {
    const pm = new PathManager({ strategy: 'ndiffports', ndiffports: 2, retryMs: 100, maxAttempts: 3 }, [
      'A',
    ]);
    pm.addConnection(6, { srcAddr: 'A', dstAddr: 'B', srcPort: 1, dstPort: 2 }, true);
    pm.built(6, 2, 3);
    pm.pathDown(6, 2, 1000);
    expect(pm.nextToBuild(6, 1099)).toEqual([]);
    expect(pm.nextRetry(6)).toBe(1100);
    expect(pm.nextToBuild(6, 1100).map((r) => r.pathIndex)).toEqual([2]);
    pm.built(6, 2, 4);
    pm.pathDown(6, 2, 2000);
    expect(pm.nextRetry(6)).toBe(2200);
    pm.built(6, 2, 5);
    pm.pathDown(6, 2, 3000);
    expect(pm.nextRetry(6)).toBe(Number.POSITIVE_INFINITY);
    pm.pathDown(6, 1, 3000);
    expect(pm.nextToBuild(6, 1e9)).toEqual([]);
  });

  it('backup addresses mark their rows and ask for MP_PRIO on live ones', () => {
    const pm = new PathManager({ strategy: 'fullmesh', ndiffports: 1 }, ['A1', 'A2']);
    pm.setBackup('A2', true);
    pm.addConnection(7, { srcAddr: 'A1', dstAddr: 'B1', srcPort: 10, dstPort: 80 }, true);
    expect(pm.row(7, 2)?.backup).toBe(true);
    pm.built(7, 2, 11);
    pm.established(7, 2);
    pm.takeActions(7);
    pm.setBackup('A2', false);
    expect(pm.takeActions(7)).toEqual([{ type: 'prio', pathIndex: 2, backup: false }]);
  });
});

describe('the C flag', () => {
  it('no new subflows toward the peer initial address, only to the ones it announces', () => {
    const pm = new PathManager({ strategy: 'fullmesh', ndiffports: 1 }, ['A1', 'A2']);
    pm.addConnection(9, { srcAddr: 'A1', dstAddr: 'B1', srcPort: 1, dstPort: 80 }, true, {
      noJoinToInitial: true,
    });
    expect(pm.rows(9)).toHaveLength(1);
    pm.addRemoteAddress(9, { id: 4, address: 'B2' });
    expect(pm.rows(9).map((r) => r.endpoint.dstAddr)).toEqual(['B1', 'B2', 'B2']);
    const nd = new PathManager({ strategy: 'ndiffports', ndiffports: 3 }, ['A1']);
    nd.addConnection(9, { srcAddr: 'A1', dstAddr: 'B1', srcPort: 1, dstPort: 80 }, true, {
      noJoinToInitial: true,
    });
    expect(nd.rows(9)).toHaveLength(1);
  });

  it('the initial address lost and back: withdrawn as id 0, announced again under its own id', () => {
    // The passive side (the client of the live-CD demo): its WiFi address carried the master.
    const pm = new PathManager({ strategy: 'fullmesh', ndiffports: 1 }, ['W', 'G']);
    pm.addConnection(7, { srcAddr: 'W', dstAddr: 'S', srcPort: 5001, dstPort: 4000 }, false);
    expect(pm.takeActions(7)).toEqual([{ type: 'announce', id: pm.addressId('G'), address: 'G' }]);
    pm.setLocalAddresses(['G']);
    expect(pm.takeActions(7)).toContainEqual({ type: 'withdraw', id: 0 });
    pm.setLocalAddresses(['G', 'W']);
    const back = pm.addressId('W');
    expect(back).not.toBe(0);
    expect(pm.takeActions(7)).toEqual([{ type: 'announce', id: back, address: 'W' }]);
    expect(pm.localIdFor(7, 'W')).toBe(back);
    // lost again: now it is the announced id that is withdrawn
    pm.setLocalAddresses(['G']);
    expect(pm.takeActions(7)).toContainEqual({ type: 'withdraw', id: back });
  });

  it('the peer withdraws its initial address (id 0) and announces it again: the row comes back', () => {
    // The initiator (the server of the demo) whose master went to the client's WiFi address.
    const pm = new PathManager({ strategy: 'fullmesh', ndiffports: 1 }, ['S']);
    pm.addConnection(8, { srcAddr: 'S', dstAddr: 'W', srcPort: 4000, dstPort: 5001 }, true);
    pm.addRemoteAddress(8, { id: 2, address: 'G' });
    for (const r of pm.nextToBuild(8, 0)) {
      pm.built(8, r.pathIndex, 4001);
      pm.established(8, r.pathIndex);
    }
    pm.removeRemoteAddress(8, 0);
    expect(pm.rows(8).find((r) => r.pathIndex === 1)?.state).toBe('removed');
    pm.addRemoteAddress(8, { id: 9, address: 'W' });
    const again = pm.nextToBuild(8, 0);
    expect(again.map((r) => [r.pathIndex, r.remoteId, r.endpoint.dstAddr, r.endpoint.srcPort])).toEqual([
      [1, 9, 'W', 0],
    ]);
  });
});
