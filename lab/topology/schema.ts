// The topology file's syntax as zod 4 schemas: the single source of truth for validation and for
// the JSON Schema editors use (scripts/gen-schema.ts → docs/topology.schema.json). Schemas only
// validate (no transforms), so they convert to JSON Schema; the planner converts units afterwards.

import * as z from 'zod';
import {
  PERCENT_PATTERN,
  type Parsed,
  parsePercent,
  parseQueue,
  parseRate,
  parseTime,
  QUEUE_PATTERN,
  RATE_PATTERN,
  TIME_PATTERN,
} from './units';

/** Longest lab name: keeps `mplab-<lab>-<node>`, socket paths and docker names short. */
export const MAX_LAB_NAME = 20;
export const MAX_NODE_NAME = 20;
/** Linux IFNAMSIZ - 1. */
export const MAX_IFNAME = 15;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const IFNAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const MAC_RE = /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/;

function unit<T>(parse: (v: unknown) => Parsed<T>, pattern: string, description: string) {
  return z
    .string({
      error: (iss) => {
        const r = parse(iss.input);
        return r.ok ? undefined : r.message;
      },
    })
    .superRefine((s, ctx) => {
      const r = parse(s);
      if (!r.ok) ctx.addIssue({ code: 'custom', message: r.message });
    })
    .meta({ pattern, description });
}

const rate = unit(parseRate, RATE_PATTERN, 'Rate in bits per second: "20mbit", "500kbit", "1gbit".');
const time = (what: string) =>
  unit(parseTime, TIME_PATTERN, `${what}: a time like "10ms", "1.5s" or "250us".`);
const percent = (what: string) =>
  unit((v) => parsePercent(v, what), PERCENT_PATTERN, `${what} in percent: "1%", "0.5%".`);
const queue = unit(
  parseQueue,
  QUEUE_PATTERN,
  'Drop-tail queue limit in packets ("100 packets"), bytes ("64kb", "64kib") or time ("50ms").',
);

export const labName = z
  .string()
  .regex(NAME_RE, {
    error: 'a lab name starts with a letter or digit and holds only letters, digits, "_" and "-"',
  })
  .max(MAX_LAB_NAME, {
    error: `a lab name has at most ${MAX_LAB_NAME} characters (it becomes part of namespace names)`,
  })
  .describe('Lab name: namespaces are mplab-<lab>-<node>.');

export const nodeName = z
  .string()
  .regex(NAME_RE, {
    error: 'a node name starts with a letter or digit and holds only letters, digits, "_" and "-"',
  })
  .max(MAX_NODE_NAME, {
    error: `a node name has at most ${MAX_NODE_NAME} characters (it becomes part of namespace names)`,
  });

export const ifName = z
  .string()
  .regex(IFNAME_RE, {
    error: 'an interface name starts with a letter or digit and holds only letters, digits, "_", "." and "-"',
  })
  .max(MAX_IFNAME, { error: `an interface name has at most ${MAX_IFNAME} characters (Linux IFNAMSIZ)` });

const mtu = z
  .number()
  .int({ error: 'the MTU is a whole number of bytes' })
  .min(68, { error: 'the MTU must be at least 68 bytes (IPv4 minimum)' })
  .max(65535, { error: 'the MTU must be at most 65535 bytes' })
  .describe('MTU in bytes (default 1500).');

const knobValue = z.union([z.string(), z.number()], { error: 'a knob value is a number or a string' });
const knobs = z
  .record(z.string(), knobValue)
  .describe('Stack knobs, /proc-style names → value, e.g. net.mptcp.mptcp_ndiffports: 2.');

const nodeKind = z
  .enum(['host', 'router', 'switch'])
  .describe('host (default), router (forwards) or switch (bridges).');
const backend = z
  .enum(['netns', 'docker', 'vm'])
  .describe('Where the node runs: netns (default), docker (a container) or vm (a QEMU VM).');

export const vmSchema = z
  .strictObject({
    memory: z
      .union([z.string(), z.number()], { error: 'memory is a size like "512mb" or "1g" (a number is MiB)' })
      .optional()
      .describe('Guest memory: "512mb", "1g" (a bare number is MiB). Default 512mb.'),
    cpus: z
      .number()
      .int({ error: 'cpus is a whole number' })
      .min(1, { error: 'a VM needs at least 1 cpu' })
      .max(64, { error: 'at most 64 cpus' })
      .optional()
      .describe('Virtual CPUs (default 1).'),
    kernel: z.string().min(1).optional().describe("Guest kernel (bzImage); default the live image's."),
    initrd: z.string().min(1).optional().describe("Base initramfs; default the live image's."),
    accel: z
      .enum(['auto', 'kvm', 'tcg'])
      .optional()
      .describe('Accelerator: auto (KVM when it runs guests, else TCG; default), kvm or tcg.'),
  })
  .describe('QEMU settings of a VM node (backend: vm).');
const stack = z
  .enum(['ts', 'kernel', 'none'])
  .describe("MPTCP stack: ts (ours, default for hosts), kernel (Linux's), none (routers, switches).");
const phy = z.enum(['udp', 'tun']).describe('How our stack reaches the wire (default udp).');

/** An inventory host name (hosts.yaml, see lab/remote/inventory.ts); `local` is this machine. */
export const hostName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, {
    error: 'a host name starts with a letter or digit and holds at most 32 letters, digits, "_" and "-"',
  })
  .describe(
    'Inventory host the node runs on (mplab up --hosts FILE); "local" is this machine. Unpinned nodes are placed automatically.',
  );

const nodeCommon = {
  kind: nodeKind.optional(),
  host: hostName.optional(),
  backend: backend.optional(),
  stack: stack.optional(),
  phy: phy.optional(),
  image: z.string().min(1).optional().describe('Container image for backend docker.'),
  vm: vmSchema.optional(),
  knobs: knobs.optional(),
};

export const interfaceSchema = z.strictObject({
  addresses: z
    .array(z.string())
    .optional()
    .describe('Addresses with prefix length: "10.1.0.1/24", "fd00:1::1/64". Planned when omitted.'),
  mtu: mtu.optional(),
  mac: z.string().regex(MAC_RE, { error: 'expected a MAC address like "02:00:00:00:00:01"' }).optional(),
});

export const nodeSchema = z.strictObject({
  ...nodeCommon,
  interfaces: z
    .record(ifName, interfaceSchema.nullable())
    .optional()
    .describe('Interfaces by name (optional): addresses, MTU, MAC.'),
});

export const burstLossSchema = z
  .strictObject({
    p: percent('p (good → bad transition probability)'),
    r: percent('r (bad → good transition probability)'),
    'loss-bad': percent('loss in the bad state').optional(),
    'loss-good': percent('loss in the good state').optional(),
  })
  .describe('Gilbert-Elliott burst loss, as netem gemodel.');

export const dirParamsShape = {
  rate: rate.optional(),
  delay: time('One-way delay').optional(),
  jitter: time('Jitter').optional(),
  loss: percent('loss').optional(),
  'burst-loss': burstLossSchema.optional(),
  reorder: percent('reorder').optional(),
  duplicate: percent('duplicate').optional(),
  queue: queue.optional(),
  trace: z
    .string()
    .min(1)
    .optional()
    .describe('Mahimahi packet-delivery trace, relative to the topology file.'),
};

export const dirParamsSchema = z.strictObject(dirParamsShape);

const linkCommon = {
  ...dirParamsShape,
  mtu: mtu.optional(),
  up: z.boolean().optional().describe('Initially up (default true).'),
  emulator: z.boolean().optional().describe('Carry this link through the userspace emulator.'),
};

export const linkDefaultsSchema = z.strictObject(linkCommon);

export const linkSchema = z.strictObject({
  endpoints: z
    .tuple([z.string(), z.string()], { error: 'endpoints is a list of two "node:iface" (or "node") strings' })
    .describe('The two ends: "node:iface", or "node" to plan the interface name.'),
  id: z
    .string()
    .regex(NAME_RE, {
      error: 'a link id starts with a letter or digit and holds only letters, digits, "_" and "-"',
    })
    .optional()
    .describe('Name for events and the CLI (default "<a>:<if>--<b>:<if>").'),
  ...linkCommon,
  subnet: z.string().optional().describe('IPv4 subnet for this link, e.g. "10.9.0.0/24".'),
  subnet6: z.string().optional().describe('IPv6 subnet for this link, e.g. "fd00:9::/64".'),
  'a->b': dirParamsSchema.optional().describe('Overrides for the direction from the first endpoint.'),
  'b->a': dirParamsSchema.optional().describe('Overrides for the direction from the second endpoint.'),
  ab: dirParamsSchema.optional().describe('Same as a->b.'),
  ba: dirParamsSchema.optional().describe('Same as b->a.'),
});

export const eventSchema = z.strictObject({
  at: z
    .union([time('Event time from the start of the run'), z.literal(0)], {
      error: (iss) => {
        const r = parseTime(iss.input);
        return r.ok ? undefined : r.message;
      },
    })
    .describe('When, from the start of the run: "10s", "500ms".'),
  link: z.string().optional().describe('"node:iface" or a link id.'),
  down: z.literal(true).optional().describe('Take the link down.'),
  up: z.literal(true).optional().describe('Bring the link up.'),
  set: dirParamsSchema.optional().describe('Change link parameters (only those given).'),
  dir: z
    .enum(['both', 'a->b', 'b->a', 'ab', 'ba', 'out', 'in'])
    .optional()
    .describe('Direction for set: both (default), a->b, b->a, or out/in relative to the named endpoint.'),
  sysctl: z
    .strictObject({
      node: z.string().describe('Node name or "all".'),
      key: z.string(),
      value: knobValue,
    })
    .optional()
    .describe('Set a knob on a node (or all nodes with a stack).'),
});

export const topologySchema = z
  .strictObject({
    name: labName.optional(),
    ipv4: z.boolean().optional().describe('Plan IPv4 addresses (default true).'),
    ipv6: z.boolean().optional().describe('Plan IPv6 addresses (default false).'),
    defaults: z
      .strictObject({
        node: z.strictObject(nodeCommon).optional(),
        link: linkDefaultsSchema.optional(),
      })
      .optional()
      .describe('Defaults for every node and link.'),
    nodes: z.record(nodeName, nodeSchema.nullable()).describe('Nodes by name.'),
    links: z.array(linkSchema).nullable().optional(),
    events: z.array(eventSchema).nullable().optional().describe('Scenario events applied during runs.'),
  })
  .meta({
    title: 'mplab topology',
    patternProperties: { '^x-': {} },
    description: 'A multipath network lab: nodes, links with emulation parameters, scenario events.',
  });

export type RawTopology = z.infer<typeof topologySchema>;
export type RawNode = z.infer<typeof nodeSchema>;
export type RawLink = z.infer<typeof linkSchema>;
export type RawDirParams = z.infer<typeof dirParamsSchema>;
export type RawEvent = z.infer<typeof eventSchema>;
export type RawVm = z.infer<typeof vmSchema>;

/** The JSON Schema (draft 2020-12) of a topology file. */
export function topologyJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(topologySchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

/** The exact text of docs/topology.schema.json. */
export function renderTopologySchema(): string {
  return `${JSON.stringify(topologyJsonSchema(), null, 2)}\n`;
}
