/**
 * The lab-build baseline: the bash script a skilled user would write to build the same network and
 * agents as `Lab.up` for a model, and to tear it down as `Lab.down` does.
 *
 * What it builds is the lab's own (the same namespaces, veths with the same names and indexes,
 * the same `ip` lines per node from lab/backends/netns.ts, the same sysctls, the same agents); how
 * it builds them is the user's best: one `ip -batch` in the root namespace for every namespace and
 * veth (each veth created directly inside its two namespaces), then one `ip -n NS -batch` (and
 * `ip -6` for IPv6 rules, `sysctl` only on forwarding nodes) per namespace, all namespaces at once
 * in the background, then the agents started together, each with its stdout on a pipe the script
 * reads: the agent prints `ready` once its control socket listens on the node's addresses, so
 * readiness costs no process at all (no python3, no polling). Down: SIGTERM to the recorded agents,
 * a wait until they are gone (SIGKILL after 300 ms, as `Lab.down`), one `ip -force -batch` deleting
 * every namespace.
 *
 * Links with shaping or impairments are refused: the bench models have none, and a baseline that
 * silently left them out would not build the same lab.
 */
import { nodeLines, nodeLines6, nodeSysctls } from '../../lab/backends/netns';
import type { LabModel } from '../../lab/topology/model';

export interface LabScript {
  up: string;
  down: string;
}

function hasParams(d: object): boolean {
  return Object.values(d).some((v) => v !== undefined);
}

/** Bash for a here-document body that cannot end early: no line may equal the delimiter. */
function heredoc(cmd: string, lines: string[], background = false): string {
  for (const l of lines) if (l === 'EOF') throw new Error('a batch line equals the here-document delimiter');
  return `${cmd} <<'EOF'${background ? ' &' : ''}\n${lines.join('\n')}\nEOF`;
}

/**
 * The scripts for `m`; `agent` is the agent bundle (undefined: no agents, as when none is built),
 * `dir` a scratch folder of the caller's for sockets, logs and the pid list.
 */
export function labScript(
  m: LabModel,
  agent: string | undefined,
  dir: string,
  node = process.execPath,
): LabScript {
  for (const l of m.links)
    if (hasParams(l.ab) || hasParams(l.ba) || l.emulator || l.needsNetem)
      throw new Error(`link ${l.id} is shaped or emulated: the lab-build baseline does not model that`);
  const ns = (n: string) => `mplab-${m.name}-${n}`;
  const up: string[] = ['set -euo pipefail', `D=${dir}`];
  // 1. every namespace and veth from the root namespace, one process
  const root = m.nodes.map((n) => `netns add ${ns(n.name)}`);
  for (const [k, l] of m.links.entries())
    root.push(
      `link add name ${l.a.iface} index ${100 + 2 * k} netns ${ns(l.a.node)} type veth peer name ${l.b.iface} index ${101 + 2 * k} netns ${ns(l.b.node)}`,
    );
  up.push(heredoc('ip -batch -', root));
  // 2. each namespace's addresses, routes, rules and sysctls, all namespaces at once
  up.push('jobs=()');
  for (const n of m.nodes) {
    up.push(heredoc(`ip -n ${ns(n.name)} -batch -`, nodeLines(n, new Set()), true), 'jobs+=($!)');
    const v6 = nodeLines6(n);
    if (v6.length > 0) up.push(heredoc(`ip -6 -n ${ns(n.name)} -batch -`, v6, true), 'jobs+=($!)');
    const sysctls = nodeSysctls(n);
    if (sysctls.length > 0)
      up.push(`ip netns exec ${ns(n.name)} sysctl -q -w ${sysctls.join(' ')} &`, 'jobs+=($!)');
  }
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's own ${…}, not a template
  up.push('for j in "${jobs[@]}"; do wait "$j"; done');
  // 3. the agents, started together, then each one's "ready" line read from its pipe
  const ts = agent ? m.nodes.filter((n) => n.stack === 'ts') : [];
  ts.forEach((n, i) => {
    const sock = `$D/${n.name}.sock`;
    const log = `$D/${n.name}.log`;
    up.push(
      `exec {a${i}}< <(exec ip netns exec ${ns(n.name)} ${node} ${agent} --socket ${sock} --log ${log} </dev/null 2>>${log})`,
      `echo $! >> $D/pids`,
    );
  });
  ts.forEach((n, i) => {
    up.push(
      `read -r -t 15 -u "$a${i}" line || { echo "agent ${n.name}: no ready line" >&2; exit 1; }`,
      `[[ $line == ready* ]] || { echo "agent ${n.name}: $line" >&2; exit 1; }`,
    );
  });
  const down: string[] = [
    `D=${dir}`,
    'pids=()',
    '[[ -f $D/pids ]] && mapfile -t pids < $D/pids',
    'alive() { local st; [[ -e /proc/$1 ]] && read -r _ _ st _ < /proc/$1/stat 2>/dev/null && [[ $st != Z ]]; }',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's own ${…}, not a template
    '((${#pids[@]})) && kill -TERM "${pids[@]}" 2>/dev/null',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's own ${…}, not a template
    'for p in "${pids[@]}"; do for ((k = 0; k < 60; k++)); do alive "$p" || break; sleep 0.005; done; alive "$p" && kill -KILL "$p" 2>/dev/null; done',
    'rm -f $D/pids',
    heredoc(
      'ip -force -batch -',
      m.nodes.map((n) => `netns del ${ns(n.name)}`),
    ),
  ];
  return { up: `${up.join('\n')}\n`, down: `${down.join('\n')}\n` };
}
