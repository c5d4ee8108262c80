import { Box, Text } from 'ink';
import type { LabStatus, LinkStatus } from '../../lab/lab';
import type { DirParams } from '../../lab/topology/model';
import { fmtBytes, fmtMs } from './output';
import { Table } from './Table';

/** "20 Mbit/s 10 ms ±2 ms 1% loss", or "-" for an unshaped direction. */
export function fmtDir(d: DirParams): string {
  const parts: string[] = [];
  if (d.rateMbps !== undefined) parts.push(`${d.rateMbps} Mbit/s`);
  if (d.delayMs !== undefined) parts.push(`${d.delayMs} ms`);
  if (d.jitterMs !== undefined) parts.push(`±${d.jitterMs} ms`);
  if (d.lossPct !== undefined) parts.push(`${d.lossPct}% loss`);
  if (d.burstLoss) parts.push(`GE loss p=${d.burstLoss.p}% r=${d.burstLoss.r}%`);
  if (d.reorderPct !== undefined) parts.push(`${d.reorderPct}% reorder`);
  if (d.duplicatePct !== undefined) parts.push(`${d.duplicatePct}% dup`);
  if (d.trace) parts.push(`trace ${d.trace.split('/').pop()}`);
  return parts.join(' ') || '-';
}

export function StatusView({ s }: { s: LabStatus }) {
  const multi = s.hosts !== undefined;
  const nodeRows = s.nodes.map((n) => [
    n.name,
    ...(multi ? [n.host ?? '?'] : []),
    n.kind,
    n.stack,
    n.exists ? n.handle : `${n.handle} (missing)`,
    n.addresses.join(' '),
    n.agent
      ? `${n.agent.answers ? 'answers' : n.agent.alive ? 'alive, silent' : 'dead'}${n.agent.pid ? ` pid ${n.agent.pid}` : ''}`
      : '-',
  ]);
  const vms = s.nodes.filter((n) => n.vm);
  const vmRows = vms.map((n) => {
    const v = n.vm as NonNullable<typeof n.vm>;
    return [
      n.name,
      v.state,
      v.accel,
      `${v.memoryMib} MiB`,
      String(v.cpus),
      v.uptimeMs !== undefined ? fmtMs(v.uptimeMs) : '-',
      v.pid !== undefined ? String(v.pid) : '-',
      `127.0.0.1:${v.sshPort}`,
    ];
  });
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>lab {s.lab}</Text> ({s.phase}, {s.backend}) from {s.file}, since {s.createdAt}
        {s.timings ? ` — built in ${fmtMs(Object.values(s.timings).reduce((a, b) => a + b, 0))}` : ''}
      </Text>
      <Text> </Text>
      <Table
        head={['node', ...(multi ? ['host'] : []), 'kind', 'stack', 'namespace', 'addresses', 'agent']}
        rows={nodeRows}
        colors={s.nodes.map((n) => (!n.exists || (n.agent && !n.agent.answers) ? 'red' : 'green'))}
      />
      {vmRows.length > 0 ? (
        <>
          <Text> </Text>
          <Table
            head={['VM', 'state', 'accel', 'memory', 'cpus', 'uptime', 'qemu pid', 'ssh']}
            rows={vmRows}
            colors={vms.map((n) =>
              n.vm?.state === 'ready' ? 'green' : n.vm?.state === 'dead' ? 'red' : 'yellow',
            )}
          />
        </>
      ) : null}
      <Text> </Text>
      <LinksTable links={s.links} />
      {multi ? <HostsView s={s} /> : null}
      {s.emulator ? (
        <Text>
          emulator: pid {s.emulator.pid ?? '?'} {s.emulator.alive ? 'running' : 'not running'}
        </Text>
      ) : null}
    </Box>
  );
}

/** A multi-host lab: its hosts and the links between them (VXLAN). */
function HostsView({ s }: { s: LabStatus }) {
  const cross = s.links.filter((l) => l.vxlan);
  return (
    <Box flexDirection="column">
      <Text> </Text>
      <Table
        head={['host', 'address', 'nodes', 'state']}
        rows={(s.hosts ?? []).map((h) => [
          h.name,
          h.address,
          h.nodes.join(' '),
          h.reachable ? 'answers' : `unreachable: ${h.error ?? ''}`,
        ])}
        colors={(s.hosts ?? []).map((h) => (h.reachable ? 'green' : 'red'))}
      />
      <Text> </Text>
      {cross.length === 0 ? (
        <Text>no link crosses hosts</Text>
      ) : (
        <Table
          head={['cross-host link', 'hosts', 'vni', 'udp port', 'mtu inside']}
          rows={cross.map((l) => [
            l.id,
            `${l.vxlan?.hosts[0]} — ${l.vxlan?.hosts[1]}`,
            String(l.vxlan?.vni),
            String(l.vxlan?.port),
            l.vxlan && l.vxlan.mtu !== l.vxlan.declaredMtu
              ? `${l.vxlan.mtu} (${l.vxlan.declaredMtu} less the VXLAN overhead)`
              : String(l.vxlan?.mtu),
          ])}
        />
      )}
    </Box>
  );
}

/** Frames dropped in one direction: by the egress qdisc of the sending end and by the emulator. */
export function dropsOf(l: LinkStatus, dir: 'ab' | 'ba'): number {
  const q = (dir === 'ab' ? l.counters.a : l.counters.b)?.qdisc?.drops ?? 0;
  const e = l.emulator?.[dir].drops;
  return q + (e ? Object.values(e).reduce((a, b) => a + b, 0) : 0);
}

/** The links of a lab: ends, state, how they are carried, parameters per direction, counters. */
export function LinksTable({ links }: { links: LinkStatus[] }) {
  const linkRows = links.map((l) => [
    l.id,
    `${l.a} — ${l.b}`,
    l.up ? 'up' : 'down',
    l.via,
    fmtDir(l.ab),
    fmtDir(l.ba),
    l.counters.a ? `${fmtBytes(l.counters.a.txBytes)} / ${fmtBytes(l.counters.a.rxBytes)}` : '-',
    l.counters.b ? `${fmtBytes(l.counters.b.txBytes)} / ${fmtBytes(l.counters.b.rxBytes)}` : '-',
    `${dropsOf(l, 'ab')} / ${dropsOf(l, 'ba')}`,
  ]);
  return (
    <Table
      head={['link', 'ends', 'state', 'via', 'a→b', 'b→a', 'a tx/rx', 'b tx/rx', 'drops a→b/b→a']}
      rows={linkRows}
      colors={links.map((l) => (l.up ? 'green' : 'red'))}
    />
  );
}
