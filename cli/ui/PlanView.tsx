import { Box, Text } from 'ink';
import type { ClusterPlan } from '../../lab/remote/plan';
import { planRows } from '../../lab/remote/plan';
import { Table } from './Table';

/** `mplab up --dry-run`: where each node goes, its addresses, and the links that cross hosts. */
export function PlanView({ plan }: { plan: ClusterPlan }) {
  const rows = planRows(plan);
  const hostRows = plan.hosts.map((h) => {
    const spec = plan.inventory?.hosts.get(h);
    return [
      h,
      spec ? `${spec.user}@${spec.address}:${spec.port}` : 'this machine',
      String(plan.placement.nodesOf.get(h)?.length ?? 0),
    ];
  });
  return (
    <Box flexDirection="column">
      <Text bold>
        lab {plan.model.name}: {plan.model.nodes.length} node(s) on {plan.hosts.length} host(s), dry run
        (nothing built)
      </Text>
      <Table head={['host', 'ssh', 'nodes']} rows={hostRows} />
      <Text> </Text>
      <Table
        head={['node', 'host', 'placed', 'kind', 'stack', 'interfaces']}
        rows={rows.nodes.map((n) => [n.node, n.host, n.how, n.kind, n.stack, n.interfaces])}
      />
      <Text> </Text>
      {rows.cross.length === 0 ? (
        <Text>no link crosses hosts</Text>
      ) : (
        <Table
          head={['cross-host link', 'vni', 'a', 'b', 'mtu inside', 'udp port']}
          rows={rows.cross.map((c) => [
            c.link,
            String(c.vni),
            `${c.a.node}:${c.a.iface}@${c.a.host}`,
            `${c.b.node}:${c.b.iface}@${c.b.host}`,
            c.mtu === c.declaredMtu ? String(c.mtu) : `${c.mtu} (of ${c.declaredMtu}; VXLAN overhead)`,
            String(c.port),
          ])}
        />
      )}
    </Box>
  );
}

/** The plan as JSON (maps flattened). */
export function planJson(plan: ClusterPlan): unknown {
  const rows = planRows(plan);
  return { lab: plan.model.name, hosts: plan.hosts, nodes: rows.nodes, cross: rows.cross };
}
